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

This package is the entry point. Inside it: ``findings`` (the normalised finding, the
report, and what blocks after triage), ``scanners`` (pip-audit, Trivy, Grype),
``cyclonedx``, and ``fields`` (typed, bounded access to a report's fields).
"""

from __future__ import annotations

from typing import Any

from approvals.evidence import EvidenceError
from approvals.evidence.strictjson import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, load_json
from approvals.evidence.vulnerabilities.cyclonedx import read_cyclonedx
from approvals.evidence.vulnerabilities.findings import (
    CYCLONEDX,
    GRYPE,
    PIP_AUDIT,
    TRIVY,
    DependencyReport,
    ParsedFinding,
    blocking_findings,
    has_open_critical,
    unique,
    with_verdicts,
)
from approvals.evidence.vulnerabilities.scanners import read_grype, read_pip_audit, read_trivy

__all__ = [
    "DependencyReport",
    "ParsedFinding",
    "blocking_findings",
    "detect_format",
    "has_open_critical",
    "parse_dependency_report",
    "with_verdicts",
]


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
        findings = read_pip_audit(document, notes)
    elif report_format == TRIVY:
        findings = read_trivy(document)
    elif report_format == GRYPE:
        findings = read_grype(document)
    else:
        findings = read_cyclonedx(document)
    return DependencyReport(format=report_format, findings=unique(findings), notes=notes)


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
