"""What every check reads and returns: the ``CheckContext`` (the version, the request and
the evidence, loaded once per run in a fixed number of queries, with what is parsed,
verified or scanned once and shared by the checks) and the ``CheckOutcome`` that records
what a check saw."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from approvals.evidence import EvidenceError
from registry.choices import EvidenceKind
from registry.models import Evidence, ModelVersion


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    detail: str
    critical: bool = False
    observed: dict[str, Any] = field(default_factory=dict)
    evidence_sha256: str = ""


@dataclass
class CheckContext:
    """Everything the checks read, gathered by the service before any check runs."""

    version: ModelVersion
    rollback_target: ModelVersion | None
    approved_ids: list[int]
    dataset_uses: list[str]
    evidence: dict[str, Evidence]
    read_evidence: Callable[[Evidence], bytes]
    trusted_keys: list[Any] = field(default_factory=list)
    trusted_key_pems: list[bytes] = field(default_factory=list)
    metric_thresholds: dict[str, Any] = field(default_factory=dict)
    artifact_roots: list[Path] = field(default_factory=list)
    current_prompt_checksum: str = ""
    # Security approvers' verdicts on findings of this version, by (vulnerability, package).
    finding_verdicts: dict[tuple[str, str], Any] = field(default_factory=dict)
    # A ring request's facts (``approvals.checks.release.RingFacts``), None otherwise.
    ring: Any = None
    _documents: dict[int, bytes] = field(default_factory=dict)

    def document(self, kind: str) -> tuple[Evidence | None, bytes | None]:
        """The newest evidence of ``kind`` and its bytes (read once per run)."""
        evidence = self.evidence.get(kind)
        if evidence is None:
            return None, None
        if evidence.pk not in self._documents:
            self._documents[evidence.pk] = self.read_evidence(evidence)
        return evidence, self._documents[evidence.pk]

    @functools.cached_property
    def dependency_report(self) -> tuple[Evidence | None, Any]:
        """The newest dependency scan and its parsed report, or the ``EvidenceError`` that
        reading it raised — parsed once per run for the check and the findings ingest."""
        from approvals.evidence.vulnerabilities import parse_dependency_report

        evidence, data = self.document(EvidenceKind.DEPENDENCY_SCAN)
        if evidence is None:
            return None, None
        try:
            return evidence, parse_dependency_report(data)
        except EvidenceError as exc:
            return evidence, exc

    @functools.cached_property
    def provenance_report(self) -> tuple[Evidence | None, Any]:
        """The newest provenance and what verifying it found (or the ``EvidenceError``
        reading it raised), verified once per run for every check that relies on it."""
        from approvals.evidence.provenance import verify_provenance

        evidence, data = self.document(EvidenceKind.PROVENANCE)
        if evidence is None:
            return None, None
        try:
            return evidence, verify_provenance(
                data, expected_sha256=self.version.checksum, trusted_keys=self.trusted_keys
            )
        except EvidenceError as exc:
            return evidence, exc

    @functools.cached_property
    def local_artifact(self) -> tuple[Path | None, str]:
        """The artifact's local path when its storage URI is ``file://`` under an allowed
        root, else (None, why not)."""
        from approvals.evidence.artifact_scan import resolve_artifact_path

        if not self.version.storage_uri.startswith("file:"):
            return None, "the artifact is not on local storage (not a file:// URI)"
        if not self.artifact_roots:
            return None, "no artifact roots are configured (GOVBOARD_ARTIFACT_ROOTS)"
        try:
            return resolve_artifact_path(
                self.version.storage_uri, allowed_roots=self.artifact_roots
            ), ""
        except EvidenceError as exc:
            return None, str(exc)

    @functools.cached_property
    def local_scan(self) -> Any:
        """Our own scan of the local artifact (checksum and pickles), or None."""
        from approvals.evidence.artifact_scan import scan_artifact

        path, _ = self.local_artifact
        if path is None:
            return None
        try:
            return scan_artifact(path, expected_sha256=self.version.checksum)
        except EvidenceError as exc:
            return exc


def make_outcome(
    name: str, passed: bool, detail: str, *, evidence: Evidence | None = None, **observed: Any
) -> CheckOutcome:
    return CheckOutcome(
        name=name,
        passed=passed,
        detail=detail[:1000],
        observed=observed,
        evidence_sha256=evidence.sha256 if evidence is not None else "",
    )


def missing_document(name: str, what: str) -> CheckOutcome:
    return make_outcome(name, False, f"No {what} is attached to this version.", present=False)
