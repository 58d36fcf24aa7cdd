"""A modelscan JSON report uploaded by CI, read into an ``ArtifactScanReport``."""

from __future__ import annotations

from typing import Any

from approvals.evidence import EvidenceError
from approvals.evidence.artifact_scan.report import ArtifactScanReport
from approvals.evidence.provenance import load_json_document

MAX_REPORT_BYTES = 8 * 1024 * 1024


def parse_artifact_scan_report(data: bytes) -> ArtifactScanReport:
    """Read ``modelscan -r json`` output uploaded by CI.

    Shape (modelscan 0.8): ``{"summary": {"total_issues", "total_issues_by_severity",
    "modelscan_version", "scanned": {"total_scanned", "scanned_files"}, ...},
    "issues": [{"description", "operator", "module", "source", "scanner", "severity"}],
    "errors": [{"category", "description", "source"?}]}``. Every issue and every scan
    error is a finding (fail closed), and so is a report that scanned nothing.
    """
    report = load_json_document(data, max_bytes=MAX_REPORT_BYTES, what="modelscan report")
    if not isinstance(report, dict):
        raise EvidenceError("The modelscan report must be a JSON object.")
    summary, issues, errors = report.get("summary"), report.get("issues"), report.get("errors", [])
    if not isinstance(summary, dict) or not isinstance(issues, list):
        raise EvidenceError("The modelscan report needs a 'summary' object and an 'issues' list.")
    if not isinstance(errors, list):
        raise EvidenceError("The modelscan report's 'errors' must be a list.")
    scanned = summary.get("scanned", {})
    total_scanned = scanned.get("total_scanned", 0) if isinstance(scanned, dict) else None
    if not _is_count(total_scanned):
        raise EvidenceError("The modelscan report's summary.scanned.total_scanned is invalid.")
    total_issues = summary.get("total_issues")
    if not _is_count(total_issues):
        raise EvidenceError("The modelscan report's summary.total_issues is invalid.")

    findings = [_issue_text(issue) for issue in issues]
    findings.extend(
        f"scan error: {_text(error, 'category')}: {_text(error, 'description')}{_source(error)}"
        for error in errors
    )
    if total_issues != len(issues):
        findings.append(
            f"The report counts {total_issues} issues but lists {len(issues)}; treated as unsafe."
        )
    if total_scanned == 0:
        findings.append("modelscan scanned no files, so nothing was checked.")
    version = summary.get("modelscan_version")
    return ArtifactScanReport(
        checksum_matches=None,
        actual_sha256=None,
        files_scanned=total_scanned,
        unsafe_findings=findings,
        scanner=f"modelscan {version}" if isinstance(version, str) else "modelscan",
        passed=not findings,
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _text(item: Any, key: str) -> str:
    value = item.get(key) if isinstance(item, dict) else None
    return value[:300] if isinstance(value, str) else "?"


def _source(item: Any) -> str:
    source = _text(item, "source")
    return f" ({source})" if source != "?" else ""


def _issue_text(issue: Any) -> str:
    if not isinstance(issue, dict):
        raise EvidenceError("Each modelscan issue must be an object.")
    return f"{_text(issue, 'severity')}: {_text(issue, 'description')}{_source(issue)}"
