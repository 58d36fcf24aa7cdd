from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in

OIDC_BACKEND = "sso.backends.GovboardOIDCBackend"


def _audit_break_glass_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Every session a break-glass account opens with its password is an audit event."""
    if getattr(user, "backend", "") == OIDC_BACKEND:
        return
    from sso import conf, services
    from sso.models import BreakGlassAccount

    if BreakGlassAccount.objects.filter(user=user).exists():
        services.break_glass_login_record(user=user, request=request, sso_on=conf.sso_enabled())


class SsoConfig(AppConfig):
    """Single sign-on: OpenID Connect login, IdP groups mapped to team roles, break-glass
    password accounts and the sign-off re-authentication at the identity provider."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "sso"
    verbose_name = "Single sign-on"

    def ready(self) -> None:
        # Audit wiring, not business logic (like Django's own update_last_login on the same
        # signal): the login itself, after every check the login form makes, is what is
        # recorded. Refusals happen in sso.backends.PasswordSignInGate.
        user_logged_in.connect(_audit_break_glass_login, dispatch_uid="sso-break-glass-login")
