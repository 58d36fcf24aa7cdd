"""What a dependency-scan report says, normalised across scanners, and what of it blocks a
promotion once security approvers' triage verdicts are applied."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from registry.choices import FindingStatus, Severity

PIP_AUDIT = "pip-audit"
TRIVY = "trivy"
GRYPE = "grype"
CYCLONEDX = "cyclonedx"
FORMATS = (PIP_AUDIT, TRIVY, GRYPE, CYCLONEDX)

# Column widths of registry.models.VulnerabilityFinding.
MAX_ID_LENGTH = 100
MAX_PACKAGE_LENGTH = 200
MAX_VERSION_LENGTH = 100
MAX_FIXED_VERSION_LENGTH = 200


@dataclass(frozen=True)
class ParsedFinding:
    """One vulnerability in one installed package, normalised across scanners.

    ``severity`` is a ``Severity`` value and ``status`` a ``FindingStatus`` value; versions
    are empty strings when the report does not say (as the model's blank columns).
    """

    vulnerability_id: str
    package: str
    installed_version: str
    severity: str
    fixed_version: str
    status: str
    source_format: str


@dataclass(frozen=True)
class DependencyReport:
    """The findings of one scan report. ``notes`` lists what the scanner could not check
    (e.g. pip-audit's skipped dependencies), which a reviewer should see."""

    format: str
    findings: list[ParsedFinding]
    notes: list[str] = field(default_factory=list)


# An open finding blocks when it is critical, or when nobody knows how severe it is.
BLOCKING_SEVERITIES = frozenset({Severity.CRITICAL.value, Severity.UNKNOWN.value})


def with_verdicts(
    findings: Iterable[ParsedFinding], verdicts: Mapping[tuple[str, str], Any] | None = None
) -> list[ParsedFinding]:
    """The findings as triaged: a verdict (anything with ``severity`` and ``status``, keyed
    by vulnerability id and package) replaces what the scanner said."""
    verdicts = verdicts or {}
    triaged = []
    for finding in findings:
        verdict = verdicts.get((finding.vulnerability_id, finding.package))
        if verdict is not None:
            finding = replace(
                finding, severity=verdict.severity or finding.severity, status=verdict.status
            )
        triaged.append(finding)
    return triaged


def blocking_findings(
    findings: Iterable[ParsedFinding], verdicts: Mapping[tuple[str, str], Any] | None = None
) -> list[ParsedFinding]:
    """Open findings that are critical or unrated, after triage: the non-overridable
    blockers of the dependency scan check."""
    return [
        finding
        for finding in with_verdicts(findings, verdicts)
        if finding.status == FindingStatus.OPEN and finding.severity in BLOCKING_SEVERITIES
    ]


def has_open_critical(
    findings: Iterable[ParsedFinding], verdicts: Mapping[tuple[str, str], Any] | None = None
) -> bool:
    """Whether any open finding is critical or of unknown severity (after triage)."""
    return bool(blocking_findings(findings, verdicts))


def unique(findings: list[ParsedFinding]) -> list[ParsedFinding]:
    """Drop exact repeats (Trivy reports one package once per target), keeping order."""
    return list(dict.fromkeys(findings))
