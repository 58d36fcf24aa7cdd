"""Email notifications through the transactional outbox.

The service that makes a change writes a ``Notification`` in its own transaction, next to
the audit event that caused it (and the webhook deliveries of that event, the other half
of the same outbox). A rolled-back change therefore notifies nobody, and a change
committed while the broker is down is notified whenever the relay next runs. ``key`` is
unique: the second attempt to notify the same thing (a second sweep, a reminder already
sent) writes nothing.
"""

from __future__ import annotations

from django.db import models

from approvals.models.webhooks import OutboxEntry


class Notification(OutboxEntry):
    """One email to the people a change concerns; relayed once by ``relay_outbox``."""

    key = models.CharField(
        max_length=200,
        unique=True,
        help_text="What this notifies, once: e.g. 'review-overdue:PR-12:2026-03-02T23:59:59'.",
    )
    topic = models.CharField(max_length=64, help_text="The audit verb of the event.")
    event_id = models.BigIntegerField(null=True, blank=True)
    team_id = models.BigIntegerField(null=True, blank=True)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.topic} to {', '.join(self.recipients)}"
