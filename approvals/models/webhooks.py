"""Outbound webhooks. Deliveries are the outbox: the service that makes a change writes
one per (endpoint, event) in its own transaction — a unique constraint, so an event is
never announced twice to one endpoint."""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords

from approvals.choices import DeliveryState
from audit.verbs import AuditVerb

# The events webhooks announce. Endpoints that still list an old spelling (such as
# "version.deprecate") are matched through AuditVerb.of.
WEBHOOK_VERBS = (
    AuditVerb.PROMOTION_APPROVED,
    AuditVerb.PROMOTION_REJECTED,
    AuditVerb.VERSION_DEPRECATED,
)


class WebhookEndpoint(models.Model):
    """A receiver (routing, platform…) of signed JSON events. Empty ``team_slugs``: all."""

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, help_text="HMAC-SHA256 key for the signature.")
    events = models.JSONField(default=list, blank=True, help_text="Verbs; empty = all.")
    team_slugs = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["secret"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event for one endpoint; its attempts are logged in ``WebhookAttempt``."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries"
    )
    event_id = models.BigIntegerField()
    verb = models.CharField(max_length=64)
    payload = models.JSONField()
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_delivery_once_per_event"
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.verb} #{self.event_id} → {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One HTTP attempt: when, what came back. Append-only."""

    governance_append_only = True

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.PROTECT, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField(db_default=models.functions.Now())
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_unique"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
