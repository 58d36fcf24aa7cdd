"""Sign-off re-authentication for SSO users: a fresh login at the provider (prompt=login,
max_age=0) whose auth_time is recent and whose subject is the user's own."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import RequestFactory
from django.utils import timezone

from audit.models import AuditEvent
from sso import reauth
from sso.models import SsoIdentity
from tests.registry.factories import UserFactory
from tests.sso.conftest import back_to_govboard, sso_login

pytestmark = pytest.mark.django_db
User = get_user_model()
SIGN_PAGE = "/admin/approvals/promotionrequest/1/sign/"


def _request_for(client, username):
    """A request as the sign-off view would see it: this browser's session and user."""
    request = RequestFactory().get(SIGN_PAGE)
    request.session = client.session
    request.user = User.objects.get(username=username)
    return request


def _start(client):
    response = client.get("/sso/reauth/", {"next": SIGN_PAGE})
    assert response.status_code == 302
    return response["Location"]


def _without_prompt(url):
    """The authorization URL as a provider that ignores prompt and max_age sees it."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if k not in {"prompt", "max_age"}}
    return parts._replace(query=urlencode(query)).geturl()


def test_a_fresh_login_at_the_provider_is_recorded_in_the_session(
    sso_settings, oidc_provider, govboard
):
    # Given judy signed in with SSO a while ago, and has not re-authenticated
    sso_login(govboard, oidc_provider, "judy")
    assert reauth.fresh_idp_authentication(_request_for(govboard, "judy")) is None

    # When she re-authenticates from the sign-off page
    authorize_url = _start(govboard)
    query = parse_qs(urlsplit(authorize_url).query)
    callback = oidc_provider.authorize(authorize_url, username="judy")
    response = back_to_govboard(govboard, callback)

    # Then the provider was asked for a fresh login, and had to ask for her password again
    assert (query["prompt"], query["max_age"], query["scope"]) == (["login"], ["0"], ["openid"])
    assert query["code_challenge_method"] == ["S256"]
    assert oidc_provider.asked_for_credentials
    # And she is back on the sign-off page with a verified, fresh re-authentication
    assert response.status_code == 302 and response["Location"] == SIGN_PAGE
    request = _request_for(govboard, "judy")
    authenticated_at = reauth.fresh_idp_authentication(request)
    assert authenticated_at is not None
    assert timezone.now() - authenticated_at < timedelta(seconds=60)
    # And it was audited
    event = AuditEvent.objects.get(verb="auth.sso_reauthenticated")
    identity = SsoIdentity.objects.get(user__username="judy")
    assert (event.actor, event.object_id, event.data["subject"]) == (
        identity.user,
        str(identity.pk),
        identity.subject,
    )
    # And one re-authentication serves one sign-off when consumed
    assert reauth.fresh_idp_authentication(request, consume=True) == authenticated_at
    assert reauth.fresh_idp_authentication(request) is None


def test_a_stale_auth_time_is_refused(sso_settings, oidc_provider, govboard):
    # Given mallory signed in with SSO, at a provider whose session is an hour old and that
    # ignores prompt=login and max_age (it hands out a code without asking)
    sso_login(govboard, oidc_provider, "mallory")
    oidc_provider.backdate_login("mallory", 3600)
    before = AuditEvent.objects.count()

    # When she re-authenticates through it
    callback = oidc_provider.authorize(_without_prompt(_start(govboard)), username="mallory")
    response = back_to_govboard(govboard, callback)

    # Then the provider did not ask for credentials, and its old auth_time is refused
    assert not oidc_provider.asked_for_credentials
    assert response["Location"] == SIGN_PAGE
    assert reauth.fresh_idp_authentication(_request_for(govboard, "mallory")) is None
    assert reauth.SESSION_KEY not in govboard.session
    assert AuditEvent.objects.count() == before
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "did not ask for your credentials again" in message


def test_a_login_of_another_account_at_the_provider_is_refused(
    sso_settings, oidc_provider, govboard
):
    # Given oscar signed in with SSO and peggy too (so both are known here)
    sso_login(govboard, oidc_provider, "oscar")
    other = type(govboard)(SERVER_NAME="127.0.0.1")
    sso_login(other, oidc_provider, "peggy")
    before = AuditEvent.objects.count()

    # When oscar's re-authentication is completed by peggy signing in at the provider
    callback = oidc_provider.authorize(_start(govboard), username="peggy")
    response = back_to_govboard(govboard, callback)

    # Then it is refused: the subject is not oscar's
    assert reauth.fresh_idp_authentication(_request_for(govboard, "oscar")) is None
    assert AuditEvent.objects.count() == before
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "signed in another account" in message


def test_a_replayed_reauthentication_answer_is_refused(sso_settings, oidc_provider, govboard):
    # Given trent re-authenticated once
    sso_login(govboard, oidc_provider, "trent")
    callback = oidc_provider.authorize(_start(govboard), username="trent")
    back_to_govboard(govboard, callback)
    assert reauth.fresh_idp_authentication(_request_for(govboard, "trent")) is not None
    before = AuditEvent.objects.count()

    # When the same answer (state and code) arrives again
    response = back_to_govboard(govboard, callback)

    # Then it is refused, and no re-authentication is left in the session
    *_, message = [str(m) for m in get_messages(response.wsgi_request)]
    assert "belongs to no re-authentication started here" in message
    assert reauth.fresh_idp_authentication(_request_for(govboard, "trent")) is None
    assert AuditEvent.objects.count() == before


def test_a_remembered_reauthentication_expires(sso_settings, oidc_provider, govboard):
    # Given a re-authentication recorded six minutes ago (the limit is five)
    sso_login(govboard, oidc_provider, "judy")
    session = govboard.session
    identity = SsoIdentity.objects.get(user__username="judy")
    session[reauth.SESSION_KEY] = {
        "user": identity.user_id,
        "subject": identity.subject,
        "auth_time": (timezone.now() - timedelta(minutes=6)).isoformat(),
    }
    session.save()

    # Then it no longer counts
    assert reauth.fresh_idp_authentication(_request_for(govboard, "judy")) is None


def test_an_auth_time_before_the_flow_started_is_refused():
    # Given an identity and claims whose auth_time is two minutes before the flow started
    identity = SsoIdentity(issuer="http://idp", subject="7")
    now = timezone.now()
    claims = {
        "iss": "http://idp",
        "sub": "7",
        "auth_time": int((now - timedelta(minutes=3)).timestamp()),
    }

    # When checked / Then refused, though within five minutes of now
    with pytest.raises(reauth.ReauthRefused, match="did not ask for your credentials again"):
        reauth.check_fresh(
            claims=claims, identity=identity, started_at=now - timedelta(minutes=1), now=now
        )
    with pytest.raises(reauth.ReauthRefused, match="did not say when"):
        reauth.check_fresh(
            claims={"iss": "http://idp", "sub": "7"}, identity=identity, started_at=now, now=now
        )


def test_a_local_user_is_sent_back_to_password_or_totp(sso_settings, govboard):
    # Given a local (non-SSO) user
    user = UserFactory()
    govboard.force_login(user)

    # When they ask for an IdP re-authentication
    response = govboard.get("/sso/reauth/", {"next": SIGN_PAGE})

    # Then they go back to the sign page, told to use their password or a code
    assert response["Location"] == SIGN_PAGE
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "sign with your password or a one-time code" in message


def test_reauthentication_needs_a_signed_in_user_and_sso(settings, govboard):
    assert govboard.get("/sso/reauth/")["Location"].startswith("/admin/login/")
    govboard.force_login(UserFactory())
    assert govboard.get("/sso/reauth/").status_code == 404  # SSO off


def test_the_reauthentication_link_is_for_sso_users_only(sso_settings, oidc_provider, govboard):
    # Given an SSO user and a local one, each on a sign page
    sso_login(govboard, oidc_provider, "judy")
    sso_request = _request_for(govboard, "judy")
    local_request = RequestFactory().get(SIGN_PAGE)
    local_request.user = UserFactory()

    # Then only the SSO user gets the link back to this page
    assert reauth.reauth_url(sso_request) == f"/sso/reauth/?next={SIGN_PAGE.replace('/', '%2F')}"
    assert reauth.reauth_url(local_request) == ""
