"""CycloneDX BOM/VEX/VDR documents with a ``vulnerabilities`` array, read into findings
(severity and status mapping: ``approvals.evidence.vulnerabilities``)."""

from __future__ import annotations

from typing import Any

from packageurl import PackageURL

from approvals.evidence import EvidenceError
from approvals.evidence.vulnerabilities.fields import (
    array,
    bounded,
    join_versions,
    json_object,
    optional_object,
    text,
)
from approvals.evidence.vulnerabilities.findings import (
    CYCLONEDX,
    MAX_ID_LENGTH,
    MAX_PACKAGE_LENGTH,
    MAX_VERSION_LENGTH,
    ParsedFinding,
)
from registry.choices import FindingStatus, Severity

_CYCLONEDX_SEVERITY = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.LOW,
    "none": Severity.LOW,
    "unknown": Severity.UNKNOWN,
}
_CYCLONEDX_STATUS = {
    "resolved": FindingStatus.FIXED,
    "resolved_with_pedigree": FindingStatus.FIXED,
    "not_affected": FindingStatus.NOT_AFFECTED,
    "false_positive": FindingStatus.NOT_AFFECTED,
}
_SEVERITY_RANK = {
    Severity.UNKNOWN: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


def read_cyclonedx(document: dict[str, Any]) -> list[ParsedFinding]:
    """A CycloneDX vulnerability document: one finding per affected component."""
    if not isinstance(document.get("vulnerabilities"), list):
        raise EvidenceError(
            "The CycloneDX document has no 'vulnerabilities' array: it is an SBOM, "
            "not a vulnerability report."
        )
    components = _components_by_ref(document)
    findings = []
    for index, vuln in enumerate(document["vulnerabilities"]):
        where = f"vulnerabilities[{index}]"
        json_object(vuln, where)
        vulnerability_id = text(vuln, "id", where, MAX_ID_LENGTH, required=True)
        severity = _cyclonedx_severity(array(vuln, "ratings", where), where)
        analysis = optional_object(vuln, "analysis", where)
        state = text(analysis, "state", f"{where}.analysis", 64)
        status = _CYCLONEDX_STATUS.get(state, FindingStatus.OPEN).value
        affects = array(vuln, "affects", where)
        if not affects:
            raise EvidenceError(
                f"The dependency report's {where} ({vulnerability_id}) names no affected component."
            )
        for affect_index, affect in enumerate(affects):
            affect_where = f"{where}.affects[{affect_index}]"
            json_object(affect, affect_where)
            ref = text(affect, "ref", affect_where, 2_000, required=True)
            package, installed = _resolve_ref(ref, components, affect_where)
            affected, unaffected = _affected_versions(affect, affect_where)
            if not installed and len(affected) == 1:
                installed = affected[0]
            findings.append(
                ParsedFinding(
                    vulnerability_id=vulnerability_id,
                    package=package,
                    installed_version=bounded(
                        installed, f"{affect_where} version", MAX_VERSION_LENGTH
                    ),
                    severity=severity,
                    fixed_version=join_versions(unaffected),
                    status=status,
                    source_format=CYCLONEDX,
                )
            )
    return findings


def _cyclonedx_severity(ratings: list[Any], where: str) -> str:
    best = Severity.UNKNOWN
    for index, rating in enumerate(ratings):
        rating_where = f"{where}.ratings[{index}]"
        json_object(rating, rating_where)
        word = text(rating, "severity", rating_where, 32).lower()
        severity = _CYCLONEDX_SEVERITY.get(word, Severity.UNKNOWN)
        method = text(rating, "method", rating_where, 64)
        score = rating.get("score")
        if (
            not word
            and method.upper().startswith("CVSS")
            and isinstance(score, int | float)
            and not isinstance(score, bool)
        ):
            severity = _cvss_band(float(score))
        if _SEVERITY_RANK[severity] > _SEVERITY_RANK[best]:
            best = severity
    return best.value


def _cvss_band(score: float) -> Severity:
    """CVSS v3/v4 qualitative rating scale (FIRST), with "None" (0.0) shown as low."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


def _components_by_ref(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every component with a bom-ref, nested ones and the metadata subject included."""
    found: dict[str, dict[str, Any]] = {}
    pending: list[Any] = [document.get("components")]
    metadata = document.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("component"), dict):
        pending.append([metadata["component"]])
    while pending:
        current = pending.pop()
        if not isinstance(current, list):
            continue
        for component in current:
            if not isinstance(component, dict):
                continue
            ref = component.get("bom-ref")
            if isinstance(ref, str):
                found.setdefault(ref, component)
            pending.append(component.get("components"))
    return found


def _resolve_ref(ref: str, components: dict[str, dict[str, Any]], where: str) -> tuple[str, str]:
    """(package, installed version) for an ``affects[].ref``: a component's bom-ref or,
    as scanners often write, a package URL."""
    component = components.get(ref)
    if component is not None:
        name = text(component, "name", f"component {ref[:80]!r}", MAX_PACKAGE_LENGTH)
        version = text(component, "version", f"component {ref[:80]!r}", 10_000)
        purl = component.get("purl")
        if (not name or not version) and isinstance(purl, str):
            purl_name, purl_version = _purl_parts(purl)
            name = name or purl_name
            version = version or purl_version
        if name:
            return bounded(name, f"{where} package", MAX_PACKAGE_LENGTH), version
    if ref.startswith("pkg:"):
        name, version = _purl_parts(ref)
        if name:
            return bounded(name, f"{where} package", MAX_PACKAGE_LENGTH), version
    return bounded(ref, f"{where}.ref", MAX_PACKAGE_LENGTH), ""


def _purl_parts(purl: str) -> tuple[str, str]:
    try:
        parsed = PackageURL.from_string(purl)
    except ValueError:
        return "", ""
    name = f"{parsed.namespace}/{parsed.name}" if parsed.namespace else parsed.name
    return name, parsed.version or ""


def _affected_versions(affect: dict[str, Any], where: str) -> tuple[list[str], list[str]]:
    affected: list[str] = []
    unaffected: list[str] = []
    for index, entry in enumerate(array(affect, "versions", where)):
        entry_where = f"{where}.versions[{index}]"
        json_object(entry, entry_where)
        value = text(entry, "version", entry_where, 1_000) or text(
            entry, "range", entry_where, 1_000
        )
        status = text(entry, "status", entry_where, 32) or "affected"
        if value and status == "affected":
            affected.append(value)
        elif value and status == "unaffected":
            unaffected.append(value)
    return affected, unaffected
