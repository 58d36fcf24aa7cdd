"""Read dependency-scan reports from four scanners into one list of findings.

CI may attach the output of whichever scanner its pipeline runs; the promotion check
"no unresolved critical CVE" (DESIGN: a critical check nobody can override) needs the same
answer from each. ``parse_dependency_report`` recognises the format from the document's
shape, never from a file name or a client-declared media type:

==============  ===========================================================================
format          recognised by
==============  ===========================================================================
``pip-audit``   ``pip-audit -f json``: ``{"dependencies": [...], "fixes": [...]}``, or the
                older bare list ``[{"name", "version", "vulns"}, ...]``
``trivy``       ``trivy ... -f json``: ``{"SchemaVersion", "ArtifactName", "Results": [...]}``
``grype``       ``grype ... -o json``: ``{"matches": [...]}``
``cyclonedx``   a CycloneDX BOM/VEX/VDR with a ``vulnerabilities`` array
==============  ===========================================================================

A document matching none, or more than one, raises ``EvidenceError``: guessing could turn
an unreadable report into a "clean" one. For the same reason a CycloneDX document without a
``vulnerabilities`` array is refused (it is an SBOM, not a scan result).

Severity mapping (to ``registry.choices.Severity``):

* Trivy ``CRITICAL/HIGH/MEDIUM/LOW/UNKNOWN`` map one to one.
* Grype ``Critical/High/Medium/Low/Unknown`` map one to one; ``Negligible`` becomes ``low``.
* CycloneDX ``ratings[].severity``: ``critical/high/medium/low/unknown`` one to one,
  ``info`` and ``none`` become ``low``. A rating with a CVSS score but no severity gets the
  CVSS qualitative band (>= 9.0 critical, >= 7.0 high, >= 4.0 medium, else low). With
  several ratings the most severe one counts: a reviewer must not see a vendor's "medium"
  when NVD says "critical".
* pip-audit JSON carries no severity at all (only ``id``, ``fix_versions`` and optionally
  ``aliases``/``description``). Neither aliases nor fix versions say how severe a flaw is,
  and inventing one would be worse than admitting ignorance, so every pip-audit finding is
  ``unknown``. An open finding of unknown severity blocks like a critical one (fail
  closed: ``blocking_findings``) until a security approver triages it: records the
  severity it has, or a justified not-affected status (``registry.services.finding_triage``).
* Any other severity word (a future scanner vocabulary) becomes ``unknown``.

Status mapping (to ``registry.choices.FindingStatus``): a finding is ``open`` unless the
report says otherwise. Trivy ``Status: not_affected`` is ``not_affected``; Trivy's
``fixed`` and Grype's ``fix.state: fixed`` only mean *a fix exists upstream* (the installed
version is still vulnerable), so they stay ``open`` with ``fixed_version`` filled in.
CycloneDX ``analysis.state`` ``resolved``/``resolved_with_pedigree`` is ``fixed``,
``not_affected``/``false_positive`` is ``not_affected``, anything else is ``open``.
Findings a scanner was told to suppress (Trivy ``ExperimentalModifiedFindings``, Grype
``ignoredMatches``) are not read: they are not reported as present.

All parsing goes through ``strictjson.load_json`` (size, depth, duplicates, NaN, encoding);
field types and lengths are checked so that every finding fits the
``VulnerabilityFinding`` columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from packageurl import PackageURL

from approvals.evidence import EvidenceError
from approvals.evidence.strictjson import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, load_json
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


def parse_dependency_report(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> DependencyReport:
    """Recognise and read a pip-audit, Trivy, Grype or CycloneDX vulnerability report.

    Raises ``EvidenceError`` for anything that is not unambiguously one of them, or whose
    fields have the wrong type: an unreadable report must fail the check, not pass it.
    """
    document = load_json(data, max_bytes=max_bytes, max_depth=max_depth, what="dependency report")
    report_format = detect_format(document)
    notes: list[str] = []
    if report_format == PIP_AUDIT:
        findings = _pip_audit(document, notes)
    elif report_format == TRIVY:
        findings = _trivy(document)
    elif report_format == GRYPE:
        findings = _grype(document)
    else:
        findings = _cyclonedx(document)
    return DependencyReport(format=report_format, findings=_unique(findings), notes=notes)


def detect_format(document: Any) -> str:
    """Name the scanner format of a parsed JSON document, or raise ``EvidenceError``."""
    candidates = []
    if isinstance(document, list):
        if document and all(isinstance(item, dict) and "name" in item for item in document):
            candidates.append(PIP_AUDIT)
    elif isinstance(document, dict):
        if document.get("bomFormat") == "CycloneDX":
            candidates.append(CYCLONEDX)
        if "matches" in document:
            candidates.append(GRYPE)
        if "Results" in document or ("SchemaVersion" in document and "ArtifactName" in document):
            candidates.append(TRIVY)
        dependencies = document.get("dependencies")
        if (
            document.get("bomFormat") is None
            and isinstance(dependencies, list)
            and all(isinstance(item, dict) and "name" in item for item in dependencies)
        ):
            candidates.append(PIP_AUDIT)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise EvidenceError(
            "The dependency report is not in a recognised format: expected pip-audit, "
            "Trivy, Grype or CycloneDX vulnerability JSON."
        )
    raise EvidenceError(
        "The dependency report is ambiguous: it looks like " + " and ".join(candidates) + "."
    )


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


# --- pip-audit -----------------------------------------------------------------------------


def _pip_audit(document: Any, notes: list[str]) -> list[ParsedFinding]:
    dependencies = document if isinstance(document, list) else document["dependencies"]
    findings = []
    for index, dependency in enumerate(dependencies):
        where = f"dependencies[{index}]"
        name = _text(dependency, "name", where, MAX_PACKAGE_LENGTH, required=True)
        if "skip_reason" in dependency:
            reason = _text(dependency, "skip_reason", where, 500)
            notes.append(f"pip-audit skipped {name}: {reason}")
            continue
        version = _text(dependency, "version", where, MAX_VERSION_LENGTH)
        for vuln_index, vuln in enumerate(_list(dependency, "vulns", where)):
            vuln_where = f"{where}.vulns[{vuln_index}]"
            _object(vuln, vuln_where)
            findings.append(
                ParsedFinding(
                    vulnerability_id=_text(vuln, "id", vuln_where, MAX_ID_LENGTH, required=True),
                    package=name,
                    installed_version=version,
                    severity=Severity.UNKNOWN.value,
                    fixed_version=_join_versions(_strings(vuln, "fix_versions", vuln_where)),
                    status=FindingStatus.OPEN.value,
                    source_format=PIP_AUDIT,
                )
            )
    return findings


# --- Trivy ---------------------------------------------------------------------------------


def _trivy(document: dict[str, Any]) -> list[ParsedFinding]:
    findings = []
    for index, result in enumerate(_list(document, "Results", "$")):
        where = f"Results[{index}]"
        _object(result, where)
        for vuln_index, vuln in enumerate(_list(result, "Vulnerabilities", where)):
            vuln_where = f"{where}.Vulnerabilities[{vuln_index}]"
            _object(vuln, vuln_where)
            severity = _text(vuln, "Severity", vuln_where, 32).upper()
            status = _text(vuln, "Status", vuln_where, 32)
            findings.append(
                ParsedFinding(
                    vulnerability_id=_text(
                        vuln, "VulnerabilityID", vuln_where, MAX_ID_LENGTH, required=True
                    ),
                    package=_text(vuln, "PkgName", vuln_where, MAX_PACKAGE_LENGTH, required=True),
                    installed_version=_text(
                        vuln, "InstalledVersion", vuln_where, MAX_VERSION_LENGTH
                    ),
                    severity=_TRIVY_SEVERITY.get(severity, Severity.UNKNOWN).value,
                    fixed_version=_clip(_text(vuln, "FixedVersion", vuln_where, 10_000)),
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


def _grype(document: dict[str, Any]) -> list[ParsedFinding]:
    findings = []
    for index, match in enumerate(_list(document, "matches", "$")):
        where = f"matches[{index}]"
        _object(match, where)
        vuln = _object(match.get("vulnerability"), f"{where}.vulnerability")
        artifact = _object(match.get("artifact"), f"{where}.artifact")
        fix = _optional_object(vuln, "fix", f"{where}.vulnerability")
        severity = _text(vuln, "severity", f"{where}.vulnerability", 32).lower()
        findings.append(
            ParsedFinding(
                vulnerability_id=_text(
                    vuln, "id", f"{where}.vulnerability", MAX_ID_LENGTH, required=True
                ),
                package=_text(
                    artifact, "name", f"{where}.artifact", MAX_PACKAGE_LENGTH, required=True
                ),
                installed_version=_text(
                    artifact, "version", f"{where}.artifact", MAX_VERSION_LENGTH
                ),
                severity=_GRYPE_SEVERITY.get(severity, Severity.UNKNOWN).value,
                fixed_version=_join_versions(
                    _strings(fix, "versions", f"{where}.vulnerability.fix")
                ),
                status=FindingStatus.OPEN.value,
                source_format=GRYPE,
            )
        )
    return findings


# --- CycloneDX -----------------------------------------------------------------------------


def _cyclonedx(document: dict[str, Any]) -> list[ParsedFinding]:
    if not isinstance(document.get("vulnerabilities"), list):
        raise EvidenceError(
            "The CycloneDX document has no 'vulnerabilities' array: it is an SBOM, "
            "not a vulnerability report."
        )
    components = _components_by_ref(document)
    findings = []
    for index, vuln in enumerate(document["vulnerabilities"]):
        where = f"vulnerabilities[{index}]"
        _object(vuln, where)
        vulnerability_id = _text(vuln, "id", where, MAX_ID_LENGTH, required=True)
        severity = _cyclonedx_severity(_list(vuln, "ratings", where), where)
        analysis = _optional_object(vuln, "analysis", where)
        state = _text(analysis, "state", f"{where}.analysis", 64)
        status = _CYCLONEDX_STATUS.get(state, FindingStatus.OPEN).value
        affects = _list(vuln, "affects", where)
        if not affects:
            raise EvidenceError(
                f"The dependency report's {where} ({vulnerability_id}) names no affected component."
            )
        for affect_index, affect in enumerate(affects):
            affect_where = f"{where}.affects[{affect_index}]"
            _object(affect, affect_where)
            ref = _text(affect, "ref", affect_where, 2_000, required=True)
            package, installed = _resolve_ref(ref, components, affect_where)
            affected, unaffected = _affected_versions(affect, affect_where)
            if not installed and len(affected) == 1:
                installed = affected[0]
            findings.append(
                ParsedFinding(
                    vulnerability_id=vulnerability_id,
                    package=package,
                    installed_version=_bounded(
                        installed, f"{affect_where} version", MAX_VERSION_LENGTH
                    ),
                    severity=severity,
                    fixed_version=_join_versions(unaffected),
                    status=status,
                    source_format=CYCLONEDX,
                )
            )
    return findings


def _cyclonedx_severity(ratings: list[Any], where: str) -> str:
    best = Severity.UNKNOWN
    for index, rating in enumerate(ratings):
        rating_where = f"{where}.ratings[{index}]"
        _object(rating, rating_where)
        word = _text(rating, "severity", rating_where, 32).lower()
        severity = _CYCLONEDX_SEVERITY.get(word, Severity.UNKNOWN)
        method = _text(rating, "method", rating_where, 64)
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
        name = _text(component, "name", f"component {ref[:80]!r}", MAX_PACKAGE_LENGTH)
        version = _text(component, "version", f"component {ref[:80]!r}", 10_000)
        purl = component.get("purl")
        if (not name or not version) and isinstance(purl, str):
            purl_name, purl_version = _purl_parts(purl)
            name = name or purl_name
            version = version or purl_version
        if name:
            return _bounded(name, f"{where} package", MAX_PACKAGE_LENGTH), version
    if ref.startswith("pkg:"):
        name, version = _purl_parts(ref)
        if name:
            return _bounded(name, f"{where} package", MAX_PACKAGE_LENGTH), version
    return _bounded(ref, f"{where}.ref", MAX_PACKAGE_LENGTH), ""


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
    for index, entry in enumerate(_list(affect, "versions", where)):
        entry_where = f"{where}.versions[{index}]"
        _object(entry, entry_where)
        value = _text(entry, "version", entry_where, 1_000) or _text(
            entry, "range", entry_where, 1_000
        )
        status = _text(entry, "status", entry_where, 32) or "affected"
        if value and status == "affected":
            affected.append(value)
        elif value and status == "unaffected":
            unaffected.append(value)
    return affected, unaffected


# --- field access ----------------------------------------------------------------------------


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EvidenceError(f"The dependency report's {where} must be an object.")
    return value


def _optional_object(container: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """An object field; absent or null is empty."""
    value = container.get(key)
    return {} if value is None else _object(value, f"{where}.{key}")


def _list(container: dict[str, Any], key: str, where: str) -> list[Any]:
    """A list field; absent or null is empty (scanners omit empty arrays)."""
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise EvidenceError(f"The dependency report's {where}.{key} must be an array.")
    return value


def _text(
    container: dict[str, Any], key: str, where: str, max_length: int, *, required: bool = False
) -> str:
    value = container.get(key)
    if value is None or value == "":
        if required:
            raise EvidenceError(f"The dependency report's {where} has no {key}.")
        return ""
    if not isinstance(value, str):
        raise EvidenceError(f"The dependency report's {where}.{key} must be a string.")
    return _bounded(value, f"{where}.{key}", max_length)


def _bounded(value: str, where: str, max_length: int) -> str:
    if len(value) > max_length:
        raise EvidenceError(
            f"The dependency report's {where} is longer than {max_length} characters."
        )
    return value


def _strings(container: dict[str, Any], key: str, where: str) -> list[str]:
    values = _list(container, key, where)
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise EvidenceError(f"The dependency report's {where}.{key}[{index}] must be a string.")
    return values


def _join_versions(versions: list[str]) -> str:
    return _clip(", ".join(version for version in versions if version))


def _clip(text: str) -> str:
    """Fixed versions are advice for the reader; a long list is cut, not refused."""
    if len(text) <= MAX_FIXED_VERSION_LENGTH:
        return text
    return text[: MAX_FIXED_VERSION_LENGTH - 3] + "..."


def _unique(findings: list[ParsedFinding]) -> list[ParsedFinding]:
    """Drop exact repeats (Trivy reports one package once per target), keeping order."""
    return list(dict.fromkeys(findings))
