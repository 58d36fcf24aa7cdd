"""OpenID Connect login against a real provider (django-oauth-toolkit in a second process):
groups become team roles through the audited services, and every bad answer is refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from approvals.apps import BOARD_GROUP, MANAGER_GROUP
from audit.models import AuditEvent
from core import permissions
from registry import services
from sso.models import GroupRoleMapping, SsoIdentity, SsoRoleGrant
from tests.registry.factories import TeamFactory, UserFactory
from tests.sso.conftest import back_to_govboard, sso_login

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def team():
    return TeamFactory(slug="assistants")


@pytest.fixture
def mappings(team):
    """gov-security → security approver, gov-managers → governance manager."""
    return [
        GroupRoleMapping.objects.create(
            idp_group="gov-security", team=team, permission="approvals.sign_as_security"
        ),
        GroupRoleMapping.objects.create(
            idp_group="gov-managers", team=team, permission="registry.manage_governance"
        ),
    ]


def _session_user_id(client):
    return client.session.get("_auth_user_id")


def _nothing_signed_in(client, *, users_before, audit_before):
    assert _session_user_id(client) is None
    assert User.objects.count() == users_before
    assert SsoIdentity.objects.count() == 0
    assert AuditEvent.objects.count() == audit_before


def test_login_through_the_provider_maps_groups_to_audited_team_roles(
    sso_settings, oidc_provider, govboard, team, mappings
):
    # Given mappings for two of alice's three IdP groups
    # When alice signs in through the provider
    response = sso_login(govboard, oidc_provider, "alice")

    # Then she is signed in, as a new user bound to her provider subject
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    user = User.objects.get(pk=_session_user_id(govboard))
    identity = SsoIdentity.objects.get(user=user)
    assert (identity.issuer, user.username) == (oidc_provider.issuer, "alice")
    assert identity.groups == ["gov-managers", "gov-security", "unmapped-group"]
    assert not user.has_usable_password()
    assert (user.is_staff, user.is_superuser) == (True, False)
    assert user.email == "alice@idp.example.test"

    # And she holds exactly the mapped guardian object permissions on the team
    assert permissions.allowed(user, permissions.Verb.SIGN, team, role="security")
    assert permissions.holds_team_role(user, permissions.MANAGE, team)
    assert permissions.roles_held(user, team) == ["security"]
    assert set(SsoRoleGrant.objects.filter(user=user).values_list("permission", "idp_group")) == {
        ("approvals.sign_as_security", "gov-security"),
        ("registry.manage_governance", "gov-managers"),
    }
    # And in the Board members and Governance managers groups
    assert set(user.groups.values_list("name", flat=True)) == {BOARD_GROUP, MANAGER_GROUP}

    # And the grants went through the audited service (the system as actor) with the reason
    grants = AuditEvent.objects.filter(verb="team.role_granted").order_by("id")
    assert [(e.actor_id, e.actor_label, e.team_id, e.data) for e in grants] == [
        (
            None,
            "user:system:sso",
            team.pk,
            {
                "user": "alice",
                "permission": permission,
                "before": {"holds_role": False},
                "after": {"holds_role": True},
            },
        )
        for permission in ["registry.manage_governance", "approvals.sign_as_security"]
    ]
    reasons = AuditEvent.objects.filter(verb="sso.role_granted").order_by("id")
    assert [(e.actor_label, e.data["idp_group"], e.data["reason"]) for e in reasons] == [
        (
            "system:sso",
            "gov-managers",
            "member of IdP group 'gov-managers', which is mapped to this role",
        ),
        (
            "system:sso",
            "gov-security",
            "member of IdP group 'gov-security', which is mapped to this role",
        ),
    ]
    login = AuditEvent.objects.get(verb="auth.sso_signed_in")
    assert (login.actor, login.data["user_created"], login.data["groups"]) == (
        user,
        True,
        ["gov-managers", "gov-security", "unmapped-group"],
    )
    assert login.data["roles_granted"] == [
        "registry.manage_governance@assistants",
        "approvals.sign_as_security@assistants",
    ]


def test_a_user_removed_from_a_group_loses_the_role_at_next_login(
    sso_settings, oidc_provider, govboard, team, mappings
):
    # Given carol signed in once as security approver and governance manager
    sso_login(govboard, oidc_provider, "carol")
    user = User.objects.get(username="carol")
    assert permissions.holds_team_role(user, permissions.MANAGE, team)

    # When the IdP takes her out of gov-managers and she signs in again
    oidc_provider.remove_from_group("carol", "gov-managers")
    govboard.logout()
    sso_login(govboard, oidc_provider, "carol")

    # Then the manager role is gone (audited), the signing role stays, she is the same user
    assert User.objects.filter(username__startswith="carol").count() == 1
    assert not permissions.holds_team_role(user, permissions.MANAGE, team)
    assert permissions.allowed(user, permissions.Verb.SIGN, team, role="security")
    revoked = AuditEvent.objects.get(verb="team.role_revoked")
    assert (revoked.actor_label, revoked.data) == (
        "user:system:sso",
        {
            "user": "carol",
            "permission": "registry.manage_governance",
            "before": {"holds_role": True},
            "after": {"holds_role": False},
        },
    )
    reason = AuditEvent.objects.get(verb="sso.role_revoked")
    assert reason.data["idp_group"] == "gov-managers"
    assert set(user.groups.values_list("name", flat=True)) == {BOARD_GROUP}
    assert list(SsoRoleGrant.objects.filter(user=user).values_list("permission", flat=True)) == [
        "approvals.sign_as_security"
    ]


def test_a_manual_grant_is_never_removed_by_sso(
    sso_settings, oidc_provider, govboard, team, mappings
):
    # Given dave (only in gov-security) signed in, and an administrator then made him a
    # governance manager by hand
    sso_login(govboard, oidc_provider, "dave")
    user = User.objects.get(username="dave")
    admin = UserFactory(is_superuser=True)
    services.team_role_grant(
        actor=admin, user=user, permission="registry.manage_governance", team=team
    )
    # And the IdP takes him out of gov-security
    oidc_provider.remove_from_group("dave", "gov-security")

    # When he signs in again
    govboard.logout()
    sso_login(govboard, oidc_provider, "dave")

    # Then SSO removed only its own grant
    assert not permissions.allowed(user, permissions.Verb.SIGN, team, role="security")
    assert permissions.holds_team_role(user, permissions.MANAGE, team)
    assert not SsoRoleGrant.objects.filter(user=user).exists()


def test_deleting_a_mapping_in_the_admin_revokes_its_roles_at_once(
    sso_settings, oidc_provider, govboard, team, mappings
):
    # Given erin signed in as security approver
    sso_login(govboard, oidc_provider, "erin")
    user = User.objects.get(username="erin")
    admin = UserFactory(is_superuser=True)
    admin_client = type(govboard)()
    admin_client.force_login(admin)

    # When an administrator deletes the gov-security mapping in the admin
    mapping = mappings[0]
    response = admin_client.post(
        f"/admin/sso/grouprolemapping/{mapping.pk}/delete/", {"post": "yes"}
    )

    # Then the mapping is gone (audited) and erin's role with it, before she signs in again
    assert response.status_code == 302
    assert not GroupRoleMapping.objects.filter(pk=mapping.pk).exists()
    deleted = AuditEvent.objects.get(verb="sso.mapping_deleted")
    assert (deleted.actor, deleted.data["before"]) == (
        admin,
        {
            "idp_group": "gov-security",
            "team": "assistants",
            "permission": "approvals.sign_as_security",
        },
    )
    assert not permissions.allowed(user, permissions.Verb.SIGN, team, role="security")
    assert not user.groups.filter(name=BOARD_GROUP).exists()


def test_a_mapping_added_in_the_admin_applies_to_known_members(
    sso_settings, oidc_provider, govboard, team
):
    # Given grace (in gov-platform) signed in while nothing was mapped
    sso_login(govboard, oidc_provider, "grace")
    user = User.objects.get(username="grace")
    assert permissions.roles_held(user, team) == []
    admin_client = type(govboard)()
    admin_client.force_login(UserFactory(is_superuser=True))

    # When an administrator maps gov-platform to the platform approver role
    response = admin_client.post(
        "/admin/sso/grouprolemapping/add/",
        {"idp_group": "gov-platform", "team": team.pk, "permission": "approvals.sign_as_platform"},
    )

    # Then grace holds it now, audited
    assert response.status_code == 302
    assert permissions.roles_held(user, team) == ["platform"]
    assert AuditEvent.objects.filter(verb="sso.mapping_created").count() == 1
    assert AuditEvent.objects.filter(verb="team.role_granted").count() == 1


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("forged", "Signature verification failed"),
        ("expired", "Signature has expired"),
        ("audience", "Audience doesn't match"),
    ],
)
def test_a_bad_id_token_is_refused_and_nothing_is_created(
    sso_settings, oidc_provider, govboard, mappings, mode, reason, caplog
):
    # Given a token endpoint that hands back a forged / expired / misaddressed ID token
    sso_settings.OIDC_OP_TOKEN_ENDPOINT = f"{oidc_provider.base_url}/hostile/{mode}/token/"
    users_before, audit_before = User.objects.count(), AuditEvent.objects.count()

    # When bob signs in
    response = sso_login(govboard, oidc_provider, "bob")

    # Then he is sent back to the login page: no session, no user, no grant, no audit event
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/"
    _nothing_signed_in(govboard, users_before=users_before, audit_before=audit_before)
    assert not SsoRoleGrant.objects.exists()
    # And for the reason the test meant
    assert f"SSO login refused: The ID token is not valid: {reason}" in caplog.text


def test_a_replayed_state_is_refused(sso_settings, oidc_provider, govboard, mappings, caplog):
    # Given heidi signed in, and the callback URL (state and code) she used
    start = govboard.get("/sso/login/")
    callback = oidc_provider.authorize(start["Location"], username="heidi")
    back_to_govboard(govboard, callback)
    assert _session_user_id(govboard) is not None
    users_before, audit_before = User.objects.count(), AuditEvent.objects.count()

    # When the same callback is delivered again, in her browser and in a fresh one
    again = back_to_govboard(govboard, callback)
    fresh = type(govboard)(SERVER_NAME="127.0.0.1")
    elsewhere = back_to_govboard(fresh, callback)

    # Then both are refused: the state was used up; her session is ended; nothing new
    assert again["Location"] == elsewhere["Location"] == "/admin/login/"
    assert "OIDC callback state not found" in caplog.text
    assert _session_user_id(govboard) is None and _session_user_id(fresh) is None
    assert (User.objects.count(), AuditEvent.objects.count()) == (users_before, audit_before)


def test_a_state_from_another_browser_is_refused(
    sso_settings, oidc_provider, govboard, mappings, client
):
    # Given ivan started a login in his browser and the provider answered
    start = govboard.get("/sso/login/")
    callback = oidc_provider.authorize(start["Location"], username="ivan")
    users_before, audit_before = User.objects.count(), AuditEvent.objects.count()

    # When that answer is delivered to another browser (login CSRF), or with another state
    other = type(govboard)(SERVER_NAME="127.0.0.1")
    other.get("/sso/login/")  # that browser has states of its own, not this one
    stolen = back_to_govboard(other, callback)
    parts = urlsplit(callback)
    query = parse_qs(parts.query)
    mismatched = govboard.get(parts.path, {"code": query["code"][0], "state": "not-the-state"})

    # Then both are refused and nothing is created
    assert stolen["Location"] == mismatched["Location"] == "/admin/login/"
    assert _session_user_id(other) is None and _session_user_id(govboard) is None
    _nothing_signed_in(govboard, users_before=users_before, audit_before=audit_before)


def test_sso_is_off_when_unconfigured(govboard):
    # Given no OIDC settings (the default)
    # When the SSO pages are asked for / Then they do not exist and the login page has no button
    assert govboard.get("/sso/login/").status_code == 404
    assert govboard.get("/sso/callback/", {"code": "x", "state": "y"}).status_code == 404
    page = govboard.get("/admin/login/")
    assert page.status_code == 200
    assert b"Sign in with" not in page.content


def test_the_admin_login_page_offers_the_provider(sso_settings, govboard):
    page = govboard.get("/admin/login/", {"next": "/admin/approvals/"})
    assert b"Sign in with Test IdP" in page.content
    assert b'href="/sso/login/?next=%2Fadmin%2Fapprovals%2F"' in page.content


def test_the_role_groups_exist():
    # The groups this app fills are made by approvals migration 0006.
    assert set(
        Group.objects.filter(name__in=[BOARD_GROUP, MANAGER_GROUP]).values_list("name", flat=True)
    ) == {
        BOARD_GROUP,
        MANAGER_GROUP,
    }
