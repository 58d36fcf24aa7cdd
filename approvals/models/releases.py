"""A release's life after submission: the rings it has entered per environment, the
monitoring reports uploaded while it serves, and the incidents opened against it.

Ring entry is itself a promotion request (``PromotionRequest.release`` and
``target_ring``) with checks and sign-offs like any other; a ``RingEntry`` row is written
when that request is approved, and the deployment API refuses a ring without one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from approvals.choices import IncidentSeverity, IncidentSource, IncidentState
from core.historical_records import GovernanceHistory
from core.querysets import scoped_to
from registry.choices import Ring


class RingEntry(models.Model):
    """A release entered ``ring`` in ``environment`` at ``entered_at``: a governed state.
    Append-only: leaving a ring (a rollback) is recorded by the release and its incidents,
    never by rewriting the entry."""

    governance_append_only = True

    release = models.ForeignKey(
        "registry.Release", on_delete=models.PROTECT, related_name="ring_entries"
    )
    environment = models.CharField(max_length=64)
    ring = models.CharField(max_length=32, choices=Ring.choices)
    request = models.OneToOneField(
        "approvals.PromotionRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ring_entry",
        help_text="The approved request that let the release in (none for offline validation).",
    )
    entered_at = models.DateTimeField()
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = scoped_to("release__team")

    class Meta:
        ordering = ["release_id", "environment", "entered_at", "id"]
        verbose_name_plural = "ring entries"
        # The scorecard reads the releases that entered a ring within a window.
        indexes = [models.Index(fields=["ring", "entered_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "environment", "ring"], name="ring_entry_once"
            ),
            models.CheckConstraint(condition=Q(ring__in=Ring.values), name="ring_entry_ring_valid"),
        ]

    def __str__(self) -> str:
        return f"release {self.release_id} in {self.environment}/{self.ring}"


class MonitoringReport(models.Model):
    """One periodic monitoring report for a deployed release, and what the policy's
    rollback triggers made of it (``breaches``: empty when every trigger held)."""

    governance_append_only = True

    release = models.ForeignKey(
        "registry.Release", on_delete=models.PROTECT, related_name="monitoring_reports"
    )
    environment = models.CharField(max_length=64)
    ring = models.CharField(max_length=32, choices=Ring.choices)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    request_volume = models.PositiveBigIntegerField()
    latency_p95_ms = models.FloatField()
    retry_rate = models.FloatField()
    disagreement_rate = models.FloatField(null=True, blank=True)
    segments = models.JSONField(
        default=dict,
        blank=True,
        help_text='Segment → {"quality": x, "protected": bool, "baseline": x}.',
    )
    drift_scores = models.JSONField(default=dict, blank=True, help_text="Feature → drift score.")
    body_sha256 = models.CharField(max_length=64)
    breaches = models.JSONField(
        default=list,
        blank=True,
        help_text="The rollback triggers this report breached, each with what it observed.",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField()

    objects = scoped_to("release__team")

    class Meta:
        ordering = ["release_id", "-window_end", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_start__lt=models.F("window_end")),
                name="monitoring_report_window",
            ),
            models.UniqueConstraint(
                fields=["release", "environment", "ring", "window_start", "window_end"],
                name="monitoring_report_one_per_window",
            ),
        ]
        indexes = [
            models.Index(fields=["release", "environment", "ring", "-window_end"]),
            # The API's keyset pages of one release's reports, newest window first.
            models.Index(fields=["release", "window_end", "id"]),
        ]

    def __str__(self) -> str:
        return f"monitoring of release {self.release_id} in {self.environment}/{self.ring}"


class IncidentTag(models.Model):
    """A label incidents are searched by (``latency``, ``segment:eu``, ``data-drift``)."""

    name = models.SlugField(max_length=64, unique=True, allow_unicode=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Incident(models.Model):
    """Something went wrong with a release in production: opened by a breached rollback
    trigger or by a person, worked to resolution, and closed with a blameless
    retrospective. While open it can block promotion to the next ring."""

    team = models.ForeignKey("registry.Team", on_delete=models.PROTECT, related_name="incidents")
    release = models.ForeignKey(
        "registry.Release",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
    )
    versions = models.ManyToManyField("registry.ModelVersion", blank=True, related_name="incidents")
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    severity = models.CharField(max_length=8, choices=IncidentSeverity.choices)
    state = models.CharField(
        max_length=16, choices=IncidentState.choices, default=IncidentState.OPEN
    )
    source = models.CharField(max_length=16, choices=IncidentSource.choices)
    environment = models.CharField(max_length=64, blank=True)
    ring = models.CharField(max_length=32, choices=Ring.choices, blank=True)
    monitoring_report = models.ForeignKey(
        MonitoringReport,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
    )
    trigger = models.JSONField(
        default=dict, blank=True, help_text="The breached trigger and what it observed."
    )
    blocks_promotion = models.BooleanField(
        default=True, help_text="While open, the release cannot enter its next ring."
    )
    contributing_factors = models.JSONField(default=list, blank=True)
    retrospective = models.TextField(
        blank=True, help_text="Blameless: what happened, why it made sense then, what changes."
    )
    tags = models.ManyToManyField(IncidentTag, blank=True, related_name="incidents")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField()
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    history = GovernanceHistory(m2m_fields=[tags])

    objects = scoped_to("team")

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=IncidentState.values), name="incident_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(severity__in=IncidentSeverity.values), name="incident_severity_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["release", "state"]),
            models.Index(fields=["team", "opened_at"]),
            models.Index(fields=["state", "opened_at"]),
            # The scorecard: incidents still open at a window's start, a team's last one.
            models.Index(fields=["team", "resolved_at"]),
            # The API's keyset pages, newest first across every team a caller sees.
            models.Index(fields=["opened_at", "id"], name="incident_opened_keyset"),
            # Title search is exact or a prefix (``approvals.selectors.incidents_matching``):
            # LIKE 'term%' uses a btree only with pattern operators outside the C collation.
            models.Index(
                fields=["title"], name="incident_title_prefix", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"INC-{self.pk}: {self.title}"


class IncidentTimelineEntry(models.Model):
    """One line of an incident's timeline (opened, notified, mitigated, a note...)."""

    governance_append_only = True

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="timeline")
    at = models.DateTimeField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()

    class Meta:
        ordering = ["incident_id", "at", "id"]
        verbose_name_plural = "incident timeline entries"

    def __str__(self) -> str:
        return f"incident {self.incident_id} at {self.at:%Y-%m-%d %H:%M}"
