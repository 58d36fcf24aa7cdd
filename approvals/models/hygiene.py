"""What the lifecycle rules did, once per version, rule and episode; and the bounces of
escalation contacts that make a model unowned."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.querysets import scoped_to


class LifecycleRuleFiring(models.Model):
    """One rule acting on one version: notified, deprecated, or escalated a retirement it
    could not do.

    ``episode`` names the evidence that made the rule fire (the moment of the last
    activity, the scan report's id, the expiry moment, the deprecation): the unique
    constraint on (version, rule, episode) is what makes a second sweep, or a concurrent
    one, change nothing. A new episode (another report with a critical finding, a version
    that went quiet again after being used) fires again. Append-only.
    """

    governance_append_only = True

    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="lifecycle_firings"
    )
    rule = models.CharField(max_length=32)
    episode = models.CharField(max_length=200)
    action = models.CharField(max_length=32)
    policy = models.ForeignKey(
        "approvals.GovernancePolicy", null=True, on_delete=models.PROTECT, related_name="+"
    )
    policy_version = models.PositiveIntegerField(null=True)
    reason = models.TextField()
    evidence = models.JSONField(default=dict)
    via = models.CharField(max_length=200)
    fired_at = models.DateTimeField()

    objects = scoped_to("version__registered_model__team")

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "rule", "episode"], name="lifecycle_firing_once_per_episode"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule} → {self.action} on version {self.version_id}"


class ContactBounce(models.Model):
    """Mail to an escalation contact came back (a hard bounce): until it is cleared, no
    model with this contact can count on anyone being told, so it counts as unowned.

    Recorded by the mail relay (``actor`` None) or a person; cleared when the mailbox
    works again (changing a model's escalation contact to another address needs no
    clearing: the bounce names the address, not the model).
    """

    address = models.EmailField(db_index=True)
    detail = models.CharField(max_length=500)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(
                fields=["address"], condition=Q(cleared_at__isnull=True), name="bounce_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.address} bounced ({self.recorded_at:%Y-%m-%d})"


class ScanReportReading(models.Model):
    """That a dependency scan report uploaded after approval was read into findings (or
    could not be read, and why), so the next sweep does not parse it again. A report with
    no findings leaves no finding rows; this row is what says it was read."""

    governance_append_only = True

    evidence = models.OneToOneField("registry.Evidence", on_delete=models.PROTECT, related_name="+")
    findings = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    read_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"scan report {self.evidence_id}: {self.error or f'{self.findings} finding(s)'}"
