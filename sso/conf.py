"""What the settings say about single sign-on, read at call time (tests override settings)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

#: The label the system's own changes carry in the audit log (a username cannot contain ":").
SYSTEM_ACTOR_LABEL = "system:sso"


def sso_enabled() -> bool:
    """SSO is on when a client id is configured; ``base.py`` refuses a half configuration."""
    return bool(getattr(settings, "OIDC_RP_CLIENT_ID", ""))


def provider_name() -> str:
    return getattr(settings, "GOVBOARD_SSO_PROVIDER_NAME", "") or "your identity provider"


def issuer() -> str:
    return settings.OIDC_OP_ISSUER


def groups_claim() -> str:
    return getattr(settings, "GOVBOARD_SSO_GROUPS_CLAIM", "") or "groups"


def reauth_max_age() -> timedelta:
    """How old an IdP authentication may be and still count for a sign-off."""
    return timedelta(seconds=getattr(settings, "GOVBOARD_SSO_REAUTH_MAX_AGE_SECONDS", 300))
