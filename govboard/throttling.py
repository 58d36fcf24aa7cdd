"""Per-credential request throttling that never takes the API down with the cache.

A fixed window per credential (issue 14): the first request of a window starts it, every
request adds one, and the window's count and remaining time come back from one Lua script
on Redis -- one round trip, on one Redis client (and connection pool) per process, shared by
its threads. DRF's ``SimpleRateThrottle`` kept every request's timestamp of the window in one
cached list (read, rewritten and re-sent on every request, ~6,000 entries at 6000/min) through
a client built per call.

The budget is ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["credential"]`` (``GOVBOARD_API_RATE``,
read live); the counters live where the default cache does (``CACHE_URL`` or ``REDIS_URL``),
and in per-process memory without Redis. When Redis does not answer, requests are allowed
(fail open) and the outage is logged once, not once per request; for a second after a failure
no request waits on Redis again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from registry.models import ApiToken

logger = logging.getLogger(__name__)

#: KEYS[1] the window's counter; ARGV[1] the window in milliseconds. Returns the count so
#: far and the milliseconds left; a counter without expiry (never left by this script, but
#: possible after a restore) gets one rather than throttling forever.
_WINDOW_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}
"""
#: Seconds during which, after a failed call, no request tries Redis again.
RETRY_AFTER_OUTAGE = 1.0
_REDIS_BACKENDS = ("django.core.cache.backends.redis.RedisCache",)

_lock = threading.Lock()
_scripts: dict[str, Any] = {}  # Redis location -> the registered script on its one client
_outage = {"down_until": 0.0, "logged": False}


def _redis_location() -> str | None:
    """Where the default cache's Redis is, read live (tests override CACHES); None without."""
    cache = settings.CACHES.get("default", {})
    if cache.get("BACKEND") not in _REDIS_BACKENDS:
        return None
    location = cache.get("LOCATION")
    if isinstance(location, list | tuple):
        location = location[0] if location else None
    return location or None


def _window_script(location: str) -> Any:
    """The process's one client for ``location`` (created once), with the script on it."""
    script = _scripts.get(location)
    if script is None:
        with _lock:
            script = _scripts.get(location)
            if script is None:
                options = settings.CACHES["default"].get("OPTIONS", {})
                client = redis.Redis.from_url(
                    location,
                    socket_timeout=options.get("socket_timeout", 0.5),
                    socket_connect_timeout=options.get("socket_connect_timeout", 0.5),
                )
                script = _scripts[location] = client.register_script(_WINDOW_SCRIPT)
    return script


def _count_in_redis(location: str, key: str, duration: int) -> tuple[int, float] | None:
    """(requests in the window, seconds left), or None when Redis does not answer."""
    now = time.monotonic()
    if now < _outage["down_until"]:
        return None
    try:
        count, left_ms = _window_script(location)(keys=[key], args=[duration * 1000])
    except (redis.RedisError, OSError) as exc:
        _outage["down_until"] = now + RETRY_AFTER_OUTAGE
        if not _outage["logged"]:
            _outage["logged"] = True
            logger.warning(
                "Throttle cache unavailable (%s: %s); allowing requests until it answers.",
                type(exc).__name__,
                exc,
            )
        return None
    if _outage["logged"]:
        _outage["logged"] = False
        logger.warning("Throttle cache answers again; budgets are enforced.")
    return int(count), int(left_ms) / 1000


def _count_in_cache(key: str, duration: int) -> tuple[int, float]:
    """The same window in Django's cache (per-process memory when there is no Redis)."""
    cache = caches["default"]
    now = time.time()
    cache.add(f"{key}:until", now + duration, timeout=duration)
    cache.add(key, 0, timeout=duration)
    count = cache.incr(key)
    until = cache.get(f"{key}:until") or now + duration
    return count, max(until - now, 0.0)


class CredentialRateThrottle(SimpleRateThrottle):
    """One budget per API token (by its prefix) and per signed-in person."""

    scope = "credential"
    cache_format = "govboard:throttle:%(scope)s:%(ident)s"

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
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        location = _redis_location()
        try:
            counted = (
                _count_in_redis(location, key, self.duration)
                if location
                else _count_in_cache(key, self.duration)
            )
        except Exception as exc:  # a cache backend of another kind failing: fail open
            logger.warning("Throttle cache failed (%s); allowing the request.", exc)
            counted = None
        if counted is None:
            return True
        count, self._left = counted
        return count <= self.num_requests

    def wait(self) -> float | None:
        """Seconds until the window ends (DRF's ``Retry-After``)."""
        return max(getattr(self, "_left", 0.0), 0.001)
