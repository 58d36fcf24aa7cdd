"""The append-only log of what happened, in governance words."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.querysets import scoped_to


class AuditEvent(models.Model):
    """One semantic event (registered, signed, transitioned...). Rows are never changed.

    UPDATE, DELETE and TRUNCATE are refused by database triggers (migration 0002), so even
    the admin or a shell cannot rewrite it. ``occurred_at`` is the database server's clock.
    """

    governance_append_only = True

    occurred_at = models.DateTimeField(db_default=models.functions.Now(), editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The person or service account user; empty for the system (scheduler).",
    )
    actor_label = models.CharField(
        max_length=200,
        help_text="How the actor acted: 'user:alice', 'service-account:ci', 'system:task <id>'.",
    )
    verb = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    team_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    data = models.JSONField(default=dict, blank=True)

    objects = scoped_to("team_id")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.verb} {self.object_type}:{self.object_id} by {self.actor_label}"
