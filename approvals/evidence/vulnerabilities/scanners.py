"""The pip-audit, Trivy and Grype JSON reports, read into findings (severity and status
mapping: ``approvals.evidence.vulnerabilities``)."""

from __future__ import annotations

from typing import Any

from approvals.evidence.vulnerabilities.fields import (
    array,
    clip,
    join_versions,
    json_object,
    optional_object,
    strings,
    text,
)
from approvals.evidence.vulnerabilities.findings import (
    GRYPE,
    MAX_ID_LENGTH,
    MAX_PACKAGE_LENGTH,
    MAX_VERSION_LENGTH,
    PIP_AUDIT,
    TRIVY,
    ParsedFinding,
)
from registry.choices import FindingStatus, Severity

_TRIVY_SEVERITY = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW,
    "UNKNOWN": Severity.UNKNOWN,
}
_GRYPE_SEVERITY = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.LOW,
    "unknown": Severity.UNKNOWN,
}


# --- pip-audit -----------------------------------------------------------------------------


def read_pip_audit(document: Any, notes: list[str]) -> list[ParsedFinding]:
    """A pip-audit report (either shape); skipped dependencies become ``notes``."""
    dependencies = document if isinstance(document, list) else document["dependencies"]
    findings = []
    for index, dependency in enumerate(dependencies):
        where = f"dependencies[{index}]"
        name = text(dependency, "name", where, MAX_PACKAGE_LENGTH, required=True)
        if "skip_reason" in dependency:
            reason = text(dependency, "skip_reason", where, 500)
            notes.append(f"pip-audit skipped {name}: {reason}")
            continue
        version = text(dependency, "version", where, MAX_VERSION_LENGTH)
        for vuln_index, vuln in enumerate(array(dependency, "vulns", where)):
            vuln_where = f"{where}.vulns[{vuln_index}]"
            json_object(vuln, vuln_where)
            findings.append(
                ParsedFinding(
                    vulnerability_id=text(vuln, "id", vuln_where, MAX_ID_LENGTH, required=True),
                    package=name,
                    installed_version=version,
                    severity=Severity.UNKNOWN.value,
                    fixed_version=join_versions(strings(vuln, "fix_versions", vuln_where)),
                    status=FindingStatus.OPEN.value,
                    source_format=PIP_AUDIT,
                )
            )
    return findings


# --- Trivy ---------------------------------------------------------------------------------


def read_trivy(document: dict[str, Any]) -> list[ParsedFinding]:
    """A Trivy report: every vulnerability of every result."""
    findings = []
    for index, result in enumerate(array(document, "Results", "$")):
        where = f"Results[{index}]"
        json_object(result, where)
        for vuln_index, vuln in enumerate(array(result, "Vulnerabilities", where)):
            vuln_where = f"{where}.Vulnerabilities[{vuln_index}]"
            json_object(vuln, vuln_where)
            severity = text(vuln, "Severity", vuln_where, 32).upper()
            status = text(vuln, "Status", vuln_where, 32)
            findings.append(
                ParsedFinding(
                    vulnerability_id=text(
                        vuln, "VulnerabilityID", vuln_where, MAX_ID_LENGTH, required=True
                    ),
                    package=text(vuln, "PkgName", vuln_where, MAX_PACKAGE_LENGTH, required=True),
                    installed_version=text(
                        vuln, "InstalledVersion", vuln_where, MAX_VERSION_LENGTH
                    ),
                    severity=_TRIVY_SEVERITY.get(severity, Severity.UNKNOWN).value,
                    fixed_version=clip(text(vuln, "FixedVersion", vuln_where, 10_000)),
                    status=(
                        FindingStatus.NOT_AFFECTED.value
                        if status == "not_affected"
                        else FindingStatus.OPEN.value
                    ),
                    source_format=TRIVY,
                )
            )
    return findings


# --- Grype ---------------------------------------------------------------------------------


def read_grype(document: dict[str, Any]) -> list[ParsedFinding]:
    """A Grype report: every match (``ignoredMatches`` are not read)."""
    findings = []
    for index, match in enumerate(array(document, "matches", "$")):
        where = f"matches[{index}]"
        json_object(match, where)
        vuln = json_object(match.get("vulnerability"), f"{where}.vulnerability")
        artifact = json_object(match.get("artifact"), f"{where}.artifact")
        fix = optional_object(vuln, "fix", f"{where}.vulnerability")
        severity = text(vuln, "severity", f"{where}.vulnerability", 32).lower()
        findings.append(
            ParsedFinding(
                vulnerability_id=text(
                    vuln, "id", f"{where}.vulnerability", MAX_ID_LENGTH, required=True
                ),
                package=text(
                    artifact, "name", f"{where}.artifact", MAX_PACKAGE_LENGTH, required=True
                ),
                installed_version=text(
                    artifact, "version", f"{where}.artifact", MAX_VERSION_LENGTH
                ),
                severity=_GRYPE_SEVERITY.get(severity, Severity.UNKNOWN).value,
                fixed_version=join_versions(strings(fix, "versions", f"{where}.vulnerability.fix")),
                status=FindingStatus.OPEN.value,
                source_format=GRYPE,
            )
        )
    return findings
