"""Local password sign-in while SSO is on: only break-glass accounts, every one audited."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from core.errors import InvalidInput, NotPermitted
from sso import services
from sso.models import BreakGlassAccount, SsoIdentity
from tests.registry.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sso_on(settings):
    """SSO configured (the provider is not contacted by password sign-ins)."""
    settings.OIDC_RP_CLIENT_ID = "govboard"
    settings.OIDC_RP_CLIENT_SECRET = "secret"
    settings.OIDC_OP_ISSUER = "http://127.0.0.1:9/o"
    for name in ("AUTHORIZATION", "TOKEN", "USER", "JWKS"):
        setattr(settings, f"OIDC_OP_{name}_ENDPOINT", f"http://127.0.0.1:9/o/{name.lower()}/")
    return settings


def _password_login(username: str, password: str = PASSWORD) -> Client:
    client = Client(REMOTE_ADDR="192.0.2.7")
    client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})
    return client


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_a_password_login_of_an_ordinary_account_is_refused_while_sso_is_on(sso_on):
    # Given a local staff account that is not a break-glass account
    person = UserFactory(username="olivia")
    before = AuditEvent.objects.count()

    # When it signs in with its right password, and with a wrong one
    right = _password_login("olivia")
    wrong = _password_login("olivia", "not the password")

    # Then neither opens a session; the right password is audited as a refused sign-in
    assert not _signed_in(right) and not _signed_in(wrong)
    refused = AuditEvent.objects.get(verb="auth.password_login_refused")
    assert (refused.actor, refused.data["address"], refused.data["user"]) == (
        person,
        "192.0.2.7",
        "olivia",
    )
    assert AuditEvent.objects.count() == before + 1


def test_a_break_glass_account_signs_in_with_its_password_and_is_audited(sso_on):
    # Given a break-glass account
    admin = UserFactory(is_superuser=True)
    keeper = UserFactory(username="glass")
    account = services.break_glass_mark(actor=admin, user=keeper, reason="IdP outage; safe 2")

    # When it signs in with its password
    client = _password_login("glass")

    # Then it is signed in, and the sign-in is an audit event
    assert _signed_in(client)
    assert client.get("/admin/").status_code == 200
    login = AuditEvent.objects.get(verb="auth.break_glass_signed_in")
    assert (login.actor, login.object_id, login.data) == (
        keeper,
        str(account.pk),
        {"user": "glass", "address": "192.0.2.7", "path": "/admin/login/", "sso_enabled": True},
    )


def test_without_sso_ordinary_password_logins_work_and_break_glass_ones_are_still_audited():
    # Given SSO off, an ordinary account and a break-glass one
    UserFactory(username="ordinary")
    keeper = UserFactory(username="glass")
    services.break_glass_mark(actor=UserFactory(is_superuser=True), user=keeper, reason="spare")

    # When both sign in with their passwords
    ordinary, glass = _password_login("ordinary"), _password_login("glass")

    # Then both are signed in; only the break-glass sign-in is audited
    assert _signed_in(ordinary) and _signed_in(glass)
    assert list(
        AuditEvent.objects.filter(verb__startswith="auth.").values_list("verb", flat=True)
    ) == ["auth.break_glass_signed_in"]


def test_an_sso_user_cannot_be_marked_break_glass_and_only_administrators_mark():
    # Given an SSO user (unusable password) and an ordinary staff member
    admin = UserFactory(is_superuser=True)
    sso_user = UserFactory(username="via-idp")
    sso_user.set_unusable_password()
    sso_user.save()
    SsoIdentity.objects.create(user=sso_user, issuer="http://idp", subject="42")
    staff = UserFactory()
    before = AuditEvent.objects.count()

    # When they are marked / Then refused, nothing changed
    with pytest.raises(InvalidInput, match="An SSO user has no password"):
        services.break_glass_mark(actor=admin, user=sso_user, reason="no")
    with pytest.raises(NotPermitted, match="Only administrators"):
        services.break_glass_mark(actor=staff, user=staff, reason="me")
    with pytest.raises(InvalidInput, match="Say why"):
        services.break_glass_mark(actor=admin, user=staff, reason=" ")
    assert not BreakGlassAccount.objects.exists()
    assert AuditEvent.objects.count() == before


def test_administrators_mark_and_unmark_break_glass_accounts_in_the_admin():
    # Given an administrator in the admin and a local account
    admin = UserFactory(is_superuser=True)
    keeper = UserFactory(username="glass")
    client = Client()
    client.force_login(admin)

    # When the administrator marks it, then deletes the mark
    added = client.post(
        "/admin/sso/breakglassaccount/add/", {"user": keeper.pk, "reason": "IdP outage"}
    )
    account = BreakGlassAccount.objects.get(user=keeper)
    deleted = client.post(f"/admin/sso/breakglassaccount/{account.pk}/delete/", {"post": "yes"})

    # Then both went through the audited services
    assert (added.status_code, deleted.status_code) == (302, 302)
    assert not BreakGlassAccount.objects.exists()
    assert list(
        AuditEvent.objects.filter(verb__startswith="sso.break_glass").values_list("verb", "actor")
    ) == [("sso.break_glass_marked", admin.pk), ("sso.break_glass_unmarked", admin.pk)]


@pytest.mark.parametrize(
    "path",
    [
        "/admin/sso/grouprolemapping/",
        "/admin/sso/grouprolemapping/add/",
        "/admin/sso/breakglassaccount/",
        "/admin/sso/breakglassaccount/add/",
        "/admin/sso/ssoidentity/",
        "/admin/sso/ssorolegrant/",
    ],
)
@pytest.mark.parametrize("who", ["anonymous", "staff", "global_permissions", "administrator"])
def test_only_administrators_see_the_sso_admin(path, who):
    from django.contrib.auth.models import Permission

    client = Client()
    if who != "anonymous":
        user = UserFactory(is_superuser=who == "administrator")
        if who == "global_permissions":
            user.user_permissions.add(*Permission.objects.filter(content_type__app_label="sso"))
        client.force_login(user)

    response = client.get(path)

    if who == "administrator":
        assert response.status_code == 200
    elif who == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    else:
        assert response.status_code == 403
