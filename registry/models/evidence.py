"""Evidence attached to a version (SBOM, provenance, scans, evals) and what was read from it.

Evidence rows are append-only: a new upload of the same kind is a new row and the newest
one counts. Sign-offs bind to the digests of the evidence they saw, so replacing evidence
after a sign-off is visible, never silent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.historical_records import GovernanceHistory
from core.querysets import scoped_to
from registry.choices import EvidenceKind, FindingStatus, Severity, VexJustification
from registry.validators import validate_sha256

if TYPE_CHECKING:
    from registry.models.teams import Team


class Evidence(models.Model):
    """One uploaded evidence document. The file lives in storage under a server-made key."""

    governance_append_only = True

    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="evidence"
    )
    kind = models.CharField(max_length=32, choices=EvidenceKind.choices)
    media_type = models.CharField(max_length=100)
    client_filename = models.CharField(
        max_length=255, blank=True, help_text="As the client named it: metadata only."
    )
    storage_key = models.CharField(max_length=200, unique=True, editable=False)
    sha256 = models.CharField(max_length=64, validators=[validate_sha256])
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(db_default=models.functions.Now())

    objects = scoped_to("version__registered_model__team")

    class Meta:
        ordering = ["version_id", "kind", "-id"]
        verbose_name_plural = "evidence"
        indexes = [models.Index(fields=["version", "kind", "-id"])]

    def __str__(self) -> str:
        return f"{self.kind} for version {self.version_id} ({self.sha256[:12]})"

    @property
    def team(self) -> Team:  # core.permissions.team_of
        return self.version.registered_model.team


class VulnerabilityFinding(models.Model):
    """One vulnerability read from a dependency scan report (normalised across formats)."""

    governance_append_only = True

    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="findings")
    vulnerability_id = models.CharField(max_length=100)
    package = models.CharField(max_length=200)
    installed_version = models.CharField(max_length=100, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    fixed_version = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=16, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    source_format = models.CharField(max_length=32)

    objects = scoped_to("evidence__version__registered_model__team")

    class Meta:
        ordering = ["evidence_id", "id"]
        indexes = [
            models.Index(fields=["evidence", "severity", "status"]),
            # The admin's search box: a CVE or a package, exactly, across every scan.
            models.Index(fields=["vulnerability_id"], name="finding_vulnerability_id"),
            models.Index(fields=["package"], name="finding_package"),
        ]

    def __str__(self) -> str:
        return f"{self.vulnerability_id} in {self.package} ({self.severity})"

    @property
    def team(self) -> Team:  # core.permissions.team_of
        return self.evidence.version.registered_model.team


class FindingTriage(models.Model):
    """A security approver's verdict on a vulnerability in one version: the severity it
    really has, or a justified not-affected (VEX) or fixed status.

    Scanners such as pip-audit report no severity; an unrated open finding blocks like a
    critical one until it is triaged. The verdict applies to the (vulnerability, package)
    pair in this version, so a re-uploaded scan report keeps it. Append-only: a new verdict
    is a new row and the newest counts.
    """

    governance_append_only = True

    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="finding_triages"
    )
    finding = models.ForeignKey(
        VulnerabilityFinding, on_delete=models.PROTECT, related_name="triages"
    )
    vulnerability_id = models.CharField(max_length=100)
    package = models.CharField(max_length=200)
    severity = models.CharField(
        max_length=16,
        blank=True,
        choices=[(v, label) for v, label in Severity.choices if v != Severity.UNKNOWN],
        help_text="The severity it has for this version (blank when not affected).",
    )
    status = models.CharField(max_length=16, choices=FindingStatus.choices)
    justification = models.CharField(max_length=64, blank=True, choices=VexJustification.choices)
    note = models.TextField()
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    triaged_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        ordering = ["version_id", "vulnerability_id", "package", "-id"]
        indexes = [models.Index(fields=["version", "vulnerability_id", "package", "-id"])]
        constraints = [
            # Not affected needs a VEX justification; an open or fixed finding a severity.
            models.CheckConstraint(
                condition=(Q(status=FindingStatus.NOT_AFFECTED) & ~Q(justification=""))
                | (~Q(status=FindingStatus.NOT_AFFECTED) & ~Q(severity="")),
                name="finding_triage_justified",
            ),
        ]

    def __str__(self) -> str:
        verdict = self.severity or self.status
        return f"{self.vulnerability_id} in {self.package}: {verdict}"


class Deployment(models.Model):
    """Which version served which environment, ring and customer scope, from when to when."""

    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="deployments"
    )
    release = models.ForeignKey(
        "registry.Release",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deployments",
        help_text="The release this version served as part of; a governed ring needs one.",
    )
    environment = models.CharField(max_length=64)
    ring = models.CharField(max_length=64, blank=True)
    customer_scope = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = GovernanceHistory()

    objects = scoped_to("version__registered_model__team")

    class Meta:
        ordering = ["-started_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gt=F("started_at")),
                name="deployment_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["environment", "started_at"]),
            # The API's keyset pages, newest start first across environments.
            models.Index(fields=["started_at", "id"]),
            # "What served customer C at T", a customer's deployments and the admin's search
            # by customer, in their keyset order (newest start first, then id): PostgreSQL
            # walks it backwards and stops after a page; without the id it sorted the
            # customer's whole live set before the LIMIT (issue 14).
            models.Index(
                fields=["customer_scope", "started_at", "id"], name="deployment_customer_keyset"
            ),
        ]

    def __str__(self) -> str:
        return f"version {self.version_id} in {self.environment}/{self.ring or '-'}"

    @property
    def team(self) -> Team:  # core.permissions.team_of
        return self.version.registered_model.team
