"""Findings read from dependency scan reports: once per report, for the promotion checks
and for reports CI uploads after approval (the nightly scan the ``vulnerable`` rule
reads)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.evidence import EvidenceError
from approvals.evidence.vulnerabilities import DependencyReport, parse_dependency_report
from approvals.hygiene.verdicts import unread_scan_reports
from approvals.models import ScanReportReading
from core.sweeps import sweep
from registry import services as registry_services
from registry.models import Evidence, VulnerabilityFinding


def findings_store(evidence: Evidence, report: DependencyReport) -> int:
    """Store a parsed report's findings for its evidence document, once (set-based);
    returns how many were stored (0 when they already were)."""
    if VulnerabilityFinding.objects.filter(evidence=evidence).exists():
        return 0
    created = VulnerabilityFinding.objects.bulk_create(
        VulnerabilityFinding(
            evidence=evidence,
            vulnerability_id=f.vulnerability_id,
            package=f.package,
            installed_version=f.installed_version,
            severity=f.severity,
            fixed_version=f.fixed_version,
            status=f.status,
            source_format=f.source_format,
        )
        for f in report.findings
    )
    return len(created)


def scan_reports_read(*, now: datetime | None = None, chunk_size: int = 200) -> int:
    """Read every unread post-approval scan report into findings; returns how many.

    Through the one sweep loop. A report that cannot be parsed is recorded as read with
    the reason (it would fail again; the upload's audit event and the reading say why)
    and yields no finding. Two sweeps at once: the reading's one-to-one key lets one of
    them store it; the other's savepoint rolls back and it moves on.
    """
    now = now or timezone.now()
    limit = registry_services.max_evidence_bytes()

    def read(evidence_id: int) -> bool:
        evidence = unread_scan_reports().filter(pk=evidence_id).first()
        if evidence is None:
            return False
        with registry_services.evidence_open(evidence) as stream:
            data = stream.read(limit + 1)
        try:
            report, error = parse_dependency_report(data), ""
        except EvidenceError as exc:
            report, error = None, str(exc)[:500]
        try:
            with transaction.atomic():
                ScanReportReading.objects.create(
                    evidence=evidence,
                    findings=len(report.findings) if report else 0,
                    error=error,
                    read_at=now,
                )
        except IntegrityError:
            return False  # the other sweep read it
        if report is not None:
            findings_store(evidence, report)
        return True

    return sweep(
        name="read-scan-reports",
        candidates=unread_scan_reports(),
        handle=read,
        chunk_size=chunk_size,
    ).changed
