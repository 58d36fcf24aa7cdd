from __future__ import annotations

import ipaddress

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class IdentityConfig(AppConfig):
    """Who is signing in: failed sign-ins, lockouts and the client address."""

    name = "identity"
    verbose_name = "Identity and sign-in"

    def ready(self) -> None:
        checks.register(check_lockout_settings)


def check_lockout_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The lockout settings must be usable: a limit of 0 would lock everyone out at once,
    and a trusted proxy that is not an address or a network would silently trust nothing."""
    errors = []
    for name in ("GOVBOARD_LOCKOUT_FAILURES", "GOVBOARD_LOCKOUT_ADDRESS_FAILURES"):
        if getattr(settings, name) < 1:
            errors.append(checks.Error(f"{name} must be 1 or more.", id="identity.E001"))
    for name in ("GOVBOARD_LOCKOUT_WINDOW_SECONDS", "GOVBOARD_LOCKOUT_SECONDS"):
        if getattr(settings, name) < 0:
            errors.append(checks.Error(f"{name} must be 0 or more.", id="identity.E002"))
    if settings.GOVBOARD_LOCKOUT_WINDOW_SECONDS == 0:
        errors.append(
            checks.Error("GOVBOARD_LOCKOUT_WINDOW_SECONDS must be 1 or more.", id="identity.E002")
        )
    for entry in settings.GOVBOARD_TRUSTED_PROXIES:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            errors.append(
                checks.Error(
                    f"GOVBOARD_TRUSTED_PROXIES: {entry!r} is not an IP address or network.",
                    id="identity.E003",
                )
            )
    return errors
