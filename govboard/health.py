"""Liveness and dependency health: the database must answer; the broker may be degraded.

Degraded means the UI and API keep working (nothing waits on the broker; side effects
wait in the outbox) and says why: the broker does not answer, or answers with a
configuration that could lose or duplicate tasks (``govboard.broker_health``).
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from core.publishing import forget_broker_failure
from govboard.broker_health import probe


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    reasons = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception as exc:
        database = "down"
        reasons.append(f"database unreachable: {type(exc).__name__}")
    broker_state = probe()
    if broker_state.reachable:
        forget_broker_failure()  # the on-commit nudges publish again from now on
    broker = "ok" if broker_state.reachable else "down"
    if broker_state.reachable and broker_state.problems:
        broker = "misconfigured"
    reasons += broker_state.reasons
    status = "down" if database != "ok" else ("ok" if broker == "ok" else "degraded")
    return JsonResponse(
        {"status": status, "database": database, "broker": broker, "reasons": reasons},
        status=200 if database == "ok" else 503,
    )
