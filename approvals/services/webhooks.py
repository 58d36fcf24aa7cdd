"""Outbound webhooks through a transactional outbox.

The service that makes a change writes its deliveries (``webhooks_enqueue``: one row per
matching endpoint, the payload built from the objects it holds locked) in the same
transaction as the change and its audit event. So a rolled-back change announces nothing,
a change whose transaction commits late is announced whenever it commits (nothing reads
the log by id or time, so nothing can be skipped), and a row inserted into the audit log
by hand is never announced. The dispatcher relays committed deliveries in any order;
``webhook_deliver`` claims one, makes one HTTP attempt, logs it, and says when to retry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from approvals.choices import DeliveryState
from approvals.models import WEBHOOK_VERBS, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from audit.models import AuditEvent
from audit.verbs import AuditVerb
from core.publishing import publish_on_commit
from registry.models import ModelVersion

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5
CLAIM_SECONDS = 60
SIGNATURE_HEADER = "X-Govboard-Signature"


def sign_body(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def nudge_dispatcher() -> None:
    """After commit, ask a worker to relay the outbox now (the beat relays it anyway).

    Never blocks the request on a broker that is down: ``core.publishing`` bounds the
    attempt and skips it while the broker failed moments ago."""
    from approvals.tasks import relay_outbox

    publish_on_commit(relay_outbox.delay, what="the outbox relay nudge")


def _model_payload(version: ModelVersion) -> dict[str, Any]:
    model = version.registered_model
    return {
        "team": model.team.slug,
        "name": model.name,
        "kind": model.kind,
        "version": version.version,
        "version_id": version.pk,
        "sha256": version.checksum,
        "state": version.state,
        "storage_uri": version.storage_uri,
    }


def _payload(event: AuditEvent, version: ModelVersion) -> dict[str, Any]:
    return {
        "event": event.verb,
        "event_id": event.pk,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor_label,
        "object": {"type": event.object_type, "id": event.object_id},
        "model": _model_payload(version),
        "data": event.data,
    }


def webhooks_enqueue(*, event: AuditEvent, version: ModelVersion) -> list[WebhookDelivery]:
    """The outbox write: in the transaction of the change that recorded ``event``, one
    delivery per active endpoint that wants it. Verbs no webhook announces are ignored.

    ``version`` is the version as the change left it (held locked by the caller), so the
    payload says what the change did, not what happened later.
    """
    return webhooks_enqueue_many([(event, version)])


def webhooks_enqueue_many(
    announced: list[tuple[AuditEvent, ModelVersion]],
) -> list[WebhookDelivery]:
    """``webhooks_enqueue`` for each ``(event, version)`` of a change that made many
    events in one transaction (a sweep's chunk): the endpoints read once, one insert."""
    announced = [(event, version) for event, version in announced if event.verb in WEBHOOK_VERBS]
    if not announced:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("webhooks_enqueue() must run inside the transaction of the change.")
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True))
    deliveries = []
    for event, version in announced:
        team = version.registered_model.team.slug
        wanting = [
            endpoint
            for endpoint in endpoints
            if (not endpoint.events or event.verb in {AuditVerb.of(v) for v in endpoint.events})
            and (not endpoint.team_slugs or team in endpoint.team_slugs)
        ]
        if wanting:
            payload = _payload(event, version)
            deliveries.extend(
                WebhookDelivery(
                    endpoint=endpoint, event_id=event.pk, verb=event.verb, payload=payload
                )
                for endpoint in wanting
            )
    # Deliveries are outbox rows without history; the unique (endpoint, event) constraint
    # refuses a second announcement of the same event: a second call for one event (a
    # service that announces it and then notifies about it) adds nothing.
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    if deliveries:
        nudge_dispatcher()
    return deliveries


def webhooks_dispatch(*, batch: int = 200) -> list[int]:
    """Committed deliveries never attempted, oldest first: the relay's work list. Order
    does not matter for correctness; each attempt claims its row, so a delivery listed by
    two dispatchers is still attempted once at a time."""
    return list(
        WebhookDelivery.objects.filter(
            state=DeliveryState.PENDING, attempts=0, next_attempt_at__isnull=True
        )
        .order_by("id")
        .values_list("id", flat=True)[:batch]
    )


def _claim(delivery_id: int) -> WebhookDelivery | None:
    """Take a pending delivery for CLAIM_SECONDS; None when delivered, failed or taken."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(pk=delivery_id, state=DeliveryState.PENDING)
            .first()
        )
        if delivery is None or (delivery.claimed_until and delivery.claimed_until > now):
            return None
        delivery.claimed_until = now + timedelta(seconds=CLAIM_SECONDS)
        delivery.save(update_fields=["claimed_until"])
        return delivery


def webhook_deliver(*, delivery_id: int) -> tuple[str, int | None]:
    """One attempt. Returns (state, seconds until the next attempt or None).

    The HTTP call happens outside any transaction; the attempt is logged afterwards.
    """
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped", None
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
    http_request = urllib.request.Request(  # noqa: S310 - admin-configured http(s) endpoint
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "govboard-webhooks/1",
            "X-Govboard-Event": delivery.verb,
            "X-Govboard-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: sign_body(delivery.endpoint.secret, body),
        },
    )
    status_code, error = None, ""
    started = time.monotonic()
    if not delivery.endpoint.url.startswith(("http://", "https://")):
        error = "only http(s) endpoints are allowed"
    else:
        try:
            with urllib.request.urlopen(http_request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                status_code = response.status
        except urllib.error.HTTPError as exc:
            status_code, error = exc.code, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            error = str(getattr(exc, "reason", exc))[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        locked.attempts += 1
        WebhookAttempt.objects.create(
            delivery=locked,
            number=locked.attempts,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
        retry_in = locked.count_attempt(ok=ok, now=timezone.now())
        locked.save()
    return locked.state, retry_in


def deliveries_due(*, limit: int = 200, grace_seconds: int = 120) -> list[int]:
    """Pending deliveries whose Celery retry is overdue by ``grace_seconds`` (lost with a
    worker or the broker): the periodic sweep sends them again."""
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    return list(
        WebhookDelivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
