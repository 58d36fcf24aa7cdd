"""Sign-off re-authentication at the identity provider, for SSO users (who have no password).

``sso.views.ReauthStartView`` sends the user to the provider with ``prompt=login`` and
``max_age=0``; ``ReauthCallbackView`` verifies the returned ID token (signature, issuer,
audience, expiry, this flow's nonce), that its ``sub`` is the signed-in user's own subject,
and that its ``auth_time`` is fresh: not before the flow started (less the clock skew) and
at most ``GOVBOARD_SSO_REAUTH_MAX_AGE_SECONDS`` old. Only then is the provider's
``auth_time`` stored in the session, with the user's id and subject, and
``fresh_idp_authentication`` answers it to the sign-off for as long as it stays fresh.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from sso import conf
from sso.models import SsoIdentity

SESSION_KEY = "sso_reauthenticated"
#: Flows started and not yet finished: state → nonce, PKCE verifier, next, started_at.
FLOWS_SESSION_KEY = "sso_reauth_flows"
#: At most this many open flows per session (older ones are dropped).
MAX_OPEN_FLOWS = 5
#: Tolerated difference between the provider's clock and ours.
CLOCK_SKEW = timedelta(seconds=30)


class ReauthRefused(Exception):
    """The provider's answer does not prove a fresh login of this user."""


def identity_of(user: Any) -> SsoIdentity | None:
    if user is None or not user.is_authenticated:
        return None
    return SsoIdentity.objects.filter(user=user).first()


def check_fresh(
    *, claims: dict[str, Any], identity: SsoIdentity, started_at: datetime, now: datetime
) -> datetime:
    """The verified ``auth_time`` of ``claims`` if it proves a fresh login of ``identity``;
    ReauthRefused otherwise."""
    if str(claims.get("sub")) != identity.subject or claims.get("iss") != identity.issuer:
        raise ReauthRefused("The identity provider signed in another account.")
    auth_time = claims.get("auth_time")
    if isinstance(auth_time, bool) or not isinstance(auth_time, int | float):
        raise ReauthRefused("The identity provider did not say when you signed in (auth_time).")
    authenticated_at = datetime.fromtimestamp(auth_time, tz=UTC)
    if authenticated_at < started_at - CLOCK_SKEW or now - authenticated_at > conf.reauth_max_age():
        raise ReauthRefused(
            "The identity provider did not ask for your credentials again: "
            "its sign-in is older than this re-authentication."
        )
    if authenticated_at > now + CLOCK_SKEW:
        raise ReauthRefused("The identity provider's sign-in time lies in the future.")
    return authenticated_at


def remember(request: Any, *, identity: SsoIdentity, authenticated_at: datetime) -> None:
    request.session[SESSION_KEY] = {
        "user": request.user.pk,
        "subject": identity.subject,
        "auth_time": authenticated_at.isoformat(),
    }


def fresh_idp_authentication(request: Any, *, consume: bool = False) -> datetime | None:
    """When the signed-in user last proved their identity at the provider, if that was a
    verified ``prompt=login`` re-authentication of their own subject, still within
    ``GOVBOARD_SSO_REAUTH_MAX_AGE_SECONDS``; None otherwise.

    ``consume=True`` also forgets it, so one re-authentication serves one sign-off.
    """
    stored = request.session.get(SESSION_KEY)
    if not isinstance(stored, dict):
        return None
    if consume:
        del request.session[SESSION_KEY]
    identity = identity_of(getattr(request, "user", None))
    if identity is None or stored.get("user") != request.user.pk:
        return None
    if stored.get("subject") != identity.subject:
        return None
    try:
        authenticated_at = datetime.fromisoformat(stored["auth_time"])
    except (KeyError, TypeError, ValueError):
        return None
    now = timezone.now()
    if now - authenticated_at > conf.reauth_max_age() or authenticated_at > now + CLOCK_SKEW:
        return None
    return authenticated_at


def reauth_url(request: Any) -> str:
    """Where the signed-in user re-authenticates at the provider and comes back to this
    page; "" when SSO is off or the user is not an SSO user (password or TOTP then)."""
    if not conf.sso_enabled() or identity_of(getattr(request, "user", None)) is None:
        return ""
    return f"{reverse('sso:reauth')}?{urlencode({'next': request.get_full_path()})}"


def forget(request: Any) -> None:
    request.session.pop(SESSION_KEY, None)
