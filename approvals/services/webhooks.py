"""Outbound webhooks, with the append-only audit log as the outbox.

``webhooks_dispatch`` reads events after a cursor (``audit.services.events_after``) and
creates one delivery per (endpoint, event) — a unique constraint, so two dispatchers never
double-deliver — then enqueues them. ``webhook_deliver`` makes one HTTP attempt, logs it,
and says when to retry (exponential backoff; the Celery task schedules the retry).
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

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from approvals.choices import DeliveryState
from approvals.models import (
    WEBHOOK_VERBS,
    PromotionRequest,
    WebhookAttempt,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
)
from audit.services import events_after
from registry.models import ModelVersion

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_BACKOFF_SECONDS = 10
TIMEOUT_SECONDS = 5
CLAIM_SECONDS = 60
SIGNATURE_HEADER = "X-Govboard-Signature"


def backoff_seconds(attempt: int) -> int:
    """10 s, 20 s, 40 s … capped at one hour."""
    return min(BASE_BACKOFF_SECONDS * 2 ** max(0, attempt - 1), 3600)


def sign_body(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def nudge_dispatcher() -> None:
    """After commit, ask a worker to dispatch now (the beat dispatches anyway)."""

    def send() -> None:
        from approvals.tasks import dispatch_webhooks

        try:
            dispatch_webhooks.delay()
        except Exception:
            logger.warning("Could not nudge the webhook dispatcher; beat will.")

    transaction.on_commit(send)


def _model_for(event: Any) -> dict[str, Any]:
    version = None
    if event.object_type == "approvals.promotionrequest":
        request = (
            PromotionRequest.objects.filter(pk=event.object_id)
            .select_related("version__registered_model__team")
            .first()
        )
        version = request.version if request else None
    elif event.object_type == "registry.modelversion":
        version = (
            ModelVersion.objects.filter(pk=event.object_id)
            .select_related("registered_model__team")
            .first()
        )
    if version is None:
        return {}
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


def _payload(event: Any, model: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": event.verb,
        "event_id": event.pk,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor_label,
        "object": {"type": event.object_type, "id": event.object_id},
        "model": model,
        "data": event.data,
    }


@transaction.atomic
def webhooks_dispatch(*, batch: int = 200, lag_seconds: int | None = None) -> list[int]:
    """Turn new audit events into deliveries; returns the ids of deliveries to attempt.

    The cursor row is locked (``skip_locked``) so concurrent dispatchers take turns; even
    if two ran over the same events, the unique (endpoint, event) constraint keeps one.
    """
    cursor = (
        WebhookCursor.objects.select_for_update(skip_locked=True).filter(name="webhooks").first()
    )
    if cursor is None:
        if WebhookCursor.objects.filter(name="webhooks").exists():
            return []  # another dispatcher holds it
        WebhookCursor.objects.get_or_create(name="webhooks")
        cursor = WebhookCursor.objects.select_for_update().get(name="webhooks")
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True))
    lag = settings.GOVBOARD_OUTBOX_LAG_SECONDS if lag_seconds is None else lag_seconds
    events = events_after(
        cursor.last_event_id,
        verbs=WEBHOOK_VERBS,
        limit=batch,
        settled_before=timezone.now() - timedelta(seconds=lag),
    )
    created: list[WebhookDelivery] = []
    for event in events:
        model = _model_for(event)
        for endpoint in endpoints:
            if endpoint.events and event.verb not in endpoint.events:
                continue
            if endpoint.team_slugs and model.get("team") not in endpoint.team_slugs:
                continue
            delivery, was_created = WebhookDelivery.objects.get_or_create(
                endpoint=endpoint,
                event_id=event.pk,
                defaults={"verb": event.verb, "payload": _payload(event, model)},
            )
            if was_created:
                created.append(delivery)
    if events:
        cursor.last_event_id = events[-1].pk
        cursor.save(update_fields=["last_event_id"])
    due = list(
        WebhookDelivery.objects.filter(
            state=DeliveryState.PENDING, next_attempt_at__isnull=True
        ).values_list("id", flat=True)[:batch]
    )
    return due


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
        retry_in = None
        if ok:
            locked.state = DeliveryState.DELIVERED
            locked.delivered_at = timezone.now()
            locked.next_attempt_at = None
        elif locked.attempts >= MAX_ATTEMPTS:
            locked.state = DeliveryState.FAILED
            locked.next_attempt_at = None
        else:
            retry_in = backoff_seconds(locked.attempts)
            locked.next_attempt_at = timezone.now() + timedelta(seconds=retry_in)
        locked.claimed_until = None
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
