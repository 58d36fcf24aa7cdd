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
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            # The log's date-range filter.
            models.Index(fields=["occurred_at"], name="audit_event_occurred_at"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.verb} {self.object_type}:{self.object_id} by {self.actor_label}"


class LogLeaf(models.Model):
    """One sealed row of the audit trail: a leaf of the transparency log (ADR 0013).

    ``leaf_hash`` is RFC 6962's SHA-256(0x00 || canonical bytes of the row);
    ``chain_hash`` is SHA-256(previous leaf's chain_hash || leaf_hash): it proves nothing
    the signed tree heads do not, but lets the verifier name the first leaf that was
    reordered or inserted instead of only the first head that disagrees.
    """

    governance_append_only = True

    leaf_index = models.BigIntegerField(unique=True)
    table = models.CharField(max_length=100, help_text="The sealed row's database table.")
    row_pk = models.BigIntegerField(help_text="The sealed row's primary key.")
    leaf_hash = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()

    class Meta:
        ordering = ["leaf_index"]
        verbose_name_plural = "log leaves"
        constraints = [
            # A row is sealed once, whichever seal run found it first.
            models.UniqueConstraint(fields=["table", "row_pk"], name="audit_leaf_seals_a_row_once")
        ]

    def __str__(self) -> str:
        return f"leaf {self.leaf_index}: {self.table}#{self.row_pk}"


class SignedTreeHead(models.Model):
    """A signed checkpoint of the log: size, RFC 6962 root and time, signed with Ed25519.

    Each head is also written outside the database (GOVBOARD_AUDIT_HEADS_URL); only that
    copy catches a rewrite by someone who owns the database. ``compact_range`` is a cache
    (the perfect-subtree hashes at this size) so the next seal hashes only its new leaves;
    verification never trusts it.
    """

    governance_append_only = True

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=100, help_text="Base64 Ed25519 signature.")
    compact_range = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["tree_size"]

    def __str__(self) -> str:
        return f"tree head {self.tree_size} {self.root_hash[:12]}"


class WitnessReceipt(models.Model):
    """A witness webhook accepted this head (so the next seal run does not post it again)."""

    governance_append_only = True

    tree_size = models.BigIntegerField(unique=True)
    witnessed_at = models.DateTimeField()
    witness_url = models.CharField(max_length=500)

    class Meta:
        ordering = ["tree_size"]

    def __str__(self) -> str:
        return f"witnessed head {self.tree_size}"
