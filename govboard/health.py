"""Liveness and dependency health: the database must answer; the broker may be degraded."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


def _broker_ok() -> bool:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis"):
        return True
    import redis

    try:
        return bool(
            redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5).ping()
        )
    except redis.RedisError:
        return False


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception:
        database = "down"
    broker = "ok" if _broker_ok() else "down"
    status = (
        "ok"
        if database == "ok" and broker == "ok"
        else ("degraded" if database == "ok" else "down")
    )
    return JsonResponse(
        {"status": status, "database": database, "broker": broker},
        status=200 if database == "ok" else 503,
    )
