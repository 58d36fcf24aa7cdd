"""Per-credential request throttling that never takes the API down with the cache."""

from __future__ import annotations

import logging
from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from registry.models import ApiToken

logger = logging.getLogger(__name__)


class CredentialRateThrottle(SimpleRateThrottle):
    """One budget per API token (by its prefix) and per signed-in person."""

    scope = "credential"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def get_rate(self) -> str | None:
        # DRF copies the rates into a class attribute at import time; read the live
        # settings so a changed rate (override_settings, a reload) takes effect.
        from rest_framework.settings import api_settings

        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("Throttle cache unavailable; allowing the request.", exc_info=True)
            return True
