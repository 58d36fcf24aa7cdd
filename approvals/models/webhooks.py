"""Outbound webhooks. Deliveries are the outbox: the service that makes a change writes
one per (endpoint, event) in its own transaction — a unique constraint, so an event is
never announced twice to one endpoint."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models

from approvals.choices import DeliveryState
from audit.verbs import AuditVerb
from core.historical_records import GovernanceHistory

# The events webhooks announce. Endpoints that still list an old spelling (such as
# "version.deprecate") are matched through AuditVerb.of.
WEBHOOK_VERBS = (
    AuditVerb.PROMOTION_APPROVED,
    AuditVerb.PROMOTION_REJECTED,
    AuditVerb.VERSION_DEPRECATED,
    AuditVerb.INCIDENT_OPENED,  # issue 13: the anchor version of the release
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
    history = GovernanceHistory(excluded_fields=["secret"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OutboxEntry(models.Model):
    """What every outbox row holds: its delivery state, how many attempts were made,
    when the next is due and which relay holds it meanwhile (``claimed_until``)."""

    #: Attempts before an entry is given up (``failed``); the backoff doubles each time.
    max_attempts = 8

    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def count_attempt(self, *, ok: bool, now: datetime) -> int | None:
        """Book one attempt on the locked row (the caller saves): delivered, given up
        after ``max_attempts``, or due again after a backoff. Returns the seconds until
        the next attempt, None when there is none."""
        self.attempts += 1
        self.claimed_until = None
        self.next_attempt_at = None
        if ok:
            self.state = DeliveryState.DELIVERED
            self.delivered_at = now
            return None
        if self.attempts >= self.max_attempts:
            self.state = DeliveryState.FAILED
            return None
        retry_in = backoff_seconds(self.attempts)
        self.next_attempt_at = now + timedelta(seconds=retry_in)
        return retry_in

    count_attempt.alters_data = True


def backoff_seconds(attempt: int) -> int:
    """10 s, 20 s, 40 s … capped at one hour."""
    return min(10 * 2 ** max(0, attempt - 1), 3600)


class WebhookDelivery(OutboxEntry):
    """One event for one endpoint; its attempts are logged in ``WebhookAttempt``."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries"
    )
    event_id = models.BigIntegerField()
    verb = models.CharField(max_length=64)
    payload = models.JSONField()

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "webhook deliveries"
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
