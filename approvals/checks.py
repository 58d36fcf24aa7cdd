"""The automated checks a promotion request must pass before review.

Each check is a function of one ``CheckContext`` (the version, the request and the
evidence, loaded once per run in a fixed number of queries) returning a ``CheckOutcome``
that records what it saw. ``approvals.services`` stores the outcomes and moves the request.
Checks are conditions on the version, never permissions: nobody's role makes a failing
check pass, and the always-critical ones (missing SBOM or provenance, checksum mismatch,
open critical CVE, stale evals) cannot be overridden at all.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from approvals.choices import ALWAYS_CRITICAL_CHECKS, CheckName
from approvals.evidence import EvidenceError
from registry.choices import DatasetUse, EvidenceKind, FineTuneMethod, ModelKind
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


def _outcome(
    name: str, passed: bool, detail: str, *, evidence: Evidence | None = None, **observed: Any
) -> CheckOutcome:
    return CheckOutcome(
        name=name,
        passed=passed,
        detail=detail[:1000],
        observed=observed,
        evidence_sha256=evidence.sha256 if evidence is not None else "",
    )


def _missing(name: str, what: str) -> CheckOutcome:
    return _outcome(name, False, f"No {what} is attached to this version.", present=False)


# --- metadata and rollback ---------------------------------------------------------------


def check_metadata_complete(ctx: CheckContext) -> CheckOutcome:
    """Every required metadata field is present and valid (DESIGN 'Lifecycle rules')."""
    version = ctx.version
    missing: list[str] = []
    invalid: dict[str, list[str]] = {}
    model = version.registered_model
    for name in ("license", "risk_rating", "source_commit", "dependency_lock_hash"):
        if not getattr(version, name):
            missing.append(name)
    for name in ("allowed_use_cases", "prohibited_use_cases", "mitigation_controls"):
        value = getattr(version, name)
        if not isinstance(value, list) or not value:
            missing.append(name)
        elif not all(isinstance(item, str) and item.strip() for item in value):
            invalid[name] = ["must be a list of non-empty strings"]
    if not version.fine_tune_method:
        missing.append("fine_tune_method")
    elif version.fine_tune_method != FineTuneMethod.NONE and not (
        version.base_model_version_id or version.base_model_reference
    ):
        missing.append("base_model (a fine-tune names its base model version or reference)")
    if model.kind == ModelKind.ADAPTER and not (
        version.base_model_version_id or version.base_model_reference
    ):
        missing.append("base_model (an adapter names its base model)")
    if (
        model.kind in (ModelKind.MODEL, ModelKind.ADAPTER)
        and DatasetUse.TRAIN not in ctx.dataset_uses
    ):
        missing.append("training dataset")
    if DatasetUse.EVAL not in ctx.dataset_uses:
        missing.append("evaluation dataset")
    if not model.owner_id or not model.backup_owner_id or not model.escalation_contact:
        missing.append("owner, backup owner and escalation contact")
    elif model.owner_id == model.backup_owner_id:
        invalid["backup_owner"] = ["must differ from the owner"]
    try:
        version.full_clean(exclude=["state"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        invalid.update(exc.message_dict)
    passed = not missing and not invalid
    if passed:
        detail = "All required metadata is present and valid."
    else:
        parts = []
        if missing:
            parts.append("missing: " + ", ".join(missing))
        if invalid:
            parts.append("invalid: " + ", ".join(sorted(invalid)))
        detail = "; ".join(parts)
    return _outcome(CheckName.METADATA_COMPLETE, passed, detail, missing=missing, invalid=invalid)


def check_rollback_target(ctx: CheckContext) -> CheckOutcome:
    """When an approved version already exists, the request names one to roll back to."""
    name = CheckName.ROLLBACK_TARGET
    target, approved_ids, version = ctx.rollback_target, ctx.approved_ids, ctx.version
    if target is not None:
        if target.registered_model_id != version.registered_model_id:
            return _outcome(
                name,
                False,
                "The rollback target is a version of another model.",
                rollback_target=target.pk,
            )
        if target.pk not in approved_ids:
            return _outcome(
                name,
                False,
                f"The rollback target {target.version} is not an approved version.",
                rollback_target=target.pk,
                approved=approved_ids,
            )
        return _outcome(name, True, f"Rolls back to {target.version}.", rollback_target=target.pk)
    if approved_ids:
        return _outcome(
            name,
            False,
            "An approved version exists: name it (or another approved version) as the "
            "rollback target.",
            approved=approved_ids,
        )
    return _outcome(
        name, True, "First approval of this model: no prior version to roll back to.", approved=[]
    )


# --- supply chain ------------------------------------------------------------------------


def check_sbom(ctx: CheckContext) -> CheckOutcome:
    """An SBOM is attached and is valid CycloneDX JSON of the version it declares."""
    from approvals.evidence.sbom import validate_cyclonedx_json

    name = CheckName.SBOM
    evidence, data = ctx.document(EvidenceKind.SBOM)
    if evidence is None:
        return _missing(name, "SBOM")
    try:
        report = validate_cyclonedx_json(data)
    except EvidenceError as exc:
        return _outcome(name, False, f"The SBOM is unreadable: {exc}", evidence=evidence)
    if not report.valid:
        return _outcome(
            name,
            False,
            "The SBOM is not valid CycloneDX: " + "; ".join(report.errors[:5]),
            evidence=evidence,
            spec_version=report.spec_version,
            errors=report.errors,
        )
    return _outcome(
        name,
        True,
        f"CycloneDX {report.spec_version}, {report.component_count} components.",
        evidence=evidence,
        spec_version=report.spec_version,
        components=report.component_count,
        serial_number=report.serial_number,
    )


def check_provenance(ctx: CheckContext) -> CheckOutcome:
    """In-toto/SLSA provenance names the artifact's sha256; a DSSE signature must verify
    against a trusted key (an unknown or bad signature fails)."""
    name = CheckName.PROVENANCE
    evidence, report = ctx.provenance_report
    if evidence is None:
        return _missing(name, "provenance")
    if isinstance(report, EvidenceError):
        return _outcome(name, False, f"The provenance is unreadable: {report}", evidence=evidence)
    observed = {
        "predicate_type": report.predicate_type,
        "subjects": report.subject_names,
        "subject_matches": report.subject_matches,
        "signed": report.signed,
        "signature_valid": report.signature_valid,
        "signer_keyid": report.signer_keyid,
        "errors": report.errors,
    }
    problems = list(report.errors)
    if not report.subject_matches:
        problems.insert(0, "no subject digest equals the version's sha256")
    if report.signed and report.signature_valid is not True:
        problems.append("the DSSE signature is not by a trusted key or does not verify")
    if problems:
        return _outcome(
            name,
            False,
            "Provenance fails: " + "; ".join(problems[:5]),
            evidence=evidence,
            **observed,
        )
    how = f"signed by trusted key {report.signer_keyid}" if report.signed else "unsigned statement"
    return _outcome(
        name, True, f"Subject digest equals the checksum; {how}.", evidence=evidence, **observed
    )


def check_artifact_checksum(ctx: CheckContext) -> CheckOutcome:
    """The artifact's bytes hash to the registered checksum.

    Where the server can read the bytes (a ``file://`` artifact under an artifact root) it
    hashes them itself; a ``file://`` artifact it cannot read fails, whatever the reason
    (a symlink, a missing file), rather than passing unseen. Elsewhere only a signature
    from a trusted key vouches for the checksum: unsigned provenance is the registrant's
    own word and is not enough.
    """
    name = CheckName.ARTIFACT_CHECKSUM
    if not ctx.version.storage_uri.startswith("file:"):
        return _checksum_vouched_by_signature(ctx)
    path, why = ctx.local_artifact
    if path is None:
        return _outcome(
            name, False, f"The artifact cannot be read here: {why}.", local=True, reason=why
        )
    report = ctx.local_scan
    if isinstance(report, EvidenceError):
        return _outcome(name, False, f"The artifact cannot be read: {report}", local=True)
    if not report.checksum_matches:
        return _outcome(
            name,
            False,
            f"Checksum mismatch: the artifact hashes to {report.actual_sha256}, "
            f"the version says {ctx.version.checksum}.",
            local=True,
            actual_sha256=report.actual_sha256,
            expected_sha256=ctx.version.checksum,
        )
    return _outcome(
        name,
        True,
        "The artifact's sha256 equals the registered checksum.",
        local=True,
        actual_sha256=report.actual_sha256,
    )


def _checksum_vouched_by_signature(ctx: CheckContext) -> CheckOutcome:
    name = CheckName.ARTIFACT_CHECKSUM
    evidence, report = ctx.provenance_report
    if evidence is not None and not isinstance(report, EvidenceError) and report.verified:
        return _outcome(
            name,
            True,
            "The server cannot read this artifact; its checksum is vouched for by provenance "
            f"signed by trusted key {report.signer_keyid}.",
            evidence=evidence,
            local=False,
            vouched_by=report.signer_keyid,
        )
    if evidence is None:
        found = "no provenance is attached"
    elif isinstance(report, EvidenceError):
        found = "the provenance is unreadable"
    elif not report.signed:
        found = "the provenance is unsigned (the registrant's own word)"
    elif report.signature_valid is not True:
        found = "the provenance's signature is not by a trusted key or does not verify"
    else:
        found = "the signed provenance does not name this checksum"
    return _outcome(
        name,
        False,
        f"The server cannot read this artifact and {found}. To pass, attach in-toto "
        "provenance in a DSSE envelope signed by a trusted key (admin: Trusted signing keys) "
        f"whose subject digest is sha256:{ctx.version.checksum}, or store the artifact as a "
        "file:// path under an artifact root so the server hashes it itself.",
        evidence=evidence,
        local=False,
    )


def check_model_signature(ctx: CheckContext) -> CheckOutcome:
    """An OpenSSF model-signing signature verifies over the artifact directory, where the
    directory is readable here."""
    from approvals.evidence.model_signature import verify_model_signature

    name = CheckName.MODEL_SIGNATURE
    evidence, data = ctx.document(EvidenceKind.MODEL_SIGNATURE)
    path, why = ctx.local_artifact
    if path is None:
        # Only verifiable where the artifact directory is readable; elsewhere the
        # provenance signature and subject digest carry the artifact's identity.
        return _outcome(
            name,
            True,
            f"Not applicable: the model directory is not readable here ({why}).",
            evidence=evidence,
            applicable=False,
            verified=False,
        )
    if evidence is None:
        return _missing(name, "model signature")
    with tempfile.TemporaryDirectory(prefix="govboard-sig-") as scratch:
        bundle = Path(scratch) / "model.sig"
        bundle.write_bytes(data)
        try:
            report = verify_model_signature(path, bundle, public_keys=ctx.trusted_key_pems)
        except EvidenceError as exc:
            return _outcome(name, False, f"Cannot verify: {exc}", evidence=evidence)
    if not report.verified:
        return _outcome(
            name,
            False,
            "The model signature does not verify: " + "; ".join(report.errors[:3]),
            evidence=evidence,
            errors=report.errors,
        )
    return _outcome(
        name, True, f"Signed by {report.signer}.", evidence=evidence, signer=report.signer
    )


def check_dependency_scan(ctx: CheckContext) -> CheckOutcome:
    """A dependency scan report is attached and no finding is open and critical, or open
    and of unknown severity (pip-audit rates nothing): those block until a security
    approver triages them."""
    from approvals.evidence.vulnerabilities import blocking_findings, with_verdicts

    name = CheckName.DEPENDENCY_SCAN
    evidence, report = ctx.dependency_report
    if evidence is None:
        return _missing(name, "dependency scan report")
    if isinstance(report, EvidenceError):
        return _outcome(name, False, f"The scan report is unreadable: {report}", evidence=evidence)
    counts: dict[str, int] = {}
    for finding in with_verdicts(report.findings, ctx.finding_verdicts):
        if finding.status == "open":
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
    blocking = blocking_findings(report.findings, ctx.finding_verdicts)
    critical = [
        f"{f.vulnerability_id} in {f.package}" for f in blocking if f.severity == "critical"
    ]
    unrated = [f"{f.vulnerability_id} in {f.package}" for f in blocking if f.severity != "critical"]
    observed = {
        "format": report.format,
        "findings": len(report.findings),
        "open_by_severity": counts,
        "open_critical": critical[:50],
        "open_unrated": unrated[:50],
        "triaged": len(ctx.finding_verdicts),
        "notes": report.notes[:20],
    }
    if blocking:
        parts = []
        if critical:
            parts.append(f"{len(critical)} open critical: " + ", ".join(critical[:5]))
        if unrated:
            parts.append(
                f"{len(unrated)} open of unknown severity, blocking until a security approver "
                "triages them (records a severity or a not-affected justification): "
                + ", ".join(unrated[:5])
            )
        return _outcome(name, False, "; ".join(parts) + ".", evidence=evidence, **observed)
    return _outcome(
        name,
        True,
        f"{report.format}: {len(report.findings)} findings, none open and critical or unrated.",
        evidence=evidence,
        **observed,
    )


def check_artifact_scan(ctx: CheckContext) -> CheckOutcome:
    """No unsafe pickle in the artifact: our own scan for local ``file://`` artifacts under
    an allowed root, otherwise the modelscan report CI attached."""
    from approvals.evidence.artifact_scan import parse_artifact_scan_report

    name = CheckName.ARTIFACT_SCAN
    path, why = ctx.local_artifact
    evidence = None
    if path is not None:
        report = ctx.local_scan
        if isinstance(report, EvidenceError):
            return _outcome(name, False, f"The artifact cannot be scanned: {report}", local=True)
        source = "scanned here"
    else:
        evidence, data = ctx.document(EvidenceKind.ARTIFACT_SCAN)
        if evidence is None:
            return _outcome(
                name,
                False,
                f"Not scannable here ({why}) and no CI artifact scan report is attached.",
                local=False,
            )
        try:
            report = parse_artifact_scan_report(data)
        except EvidenceError as exc:
            return _outcome(name, False, f"The scan report is unreadable: {exc}", evidence=evidence)
        source = "CI report"
    # The checksum is its own (critical) check; here only unsafe content counts.
    unsafe = [f for f in report.unsafe_findings if "does not equal the registered" not in f]
    observed = {
        "source": source,
        "scanner": report.scanner,
        "files_scanned": report.files_scanned,
        "unsafe_findings": unsafe[:50],
    }
    if unsafe:
        return _outcome(
            name,
            False,
            f"{len(unsafe)} unsafe findings ({source}): " + "; ".join(unsafe[:3]),
            evidence=evidence,
            **observed,
        )
    return _outcome(
        name,
        True,
        f"{report.files_scanned} files, nothing unsafe ({source}, {report.scanner}).",
        evidence=evidence,
        **observed,
    )


# --- evaluations -------------------------------------------------------------------------


def check_eval_thresholds(ctx: CheckContext) -> CheckOutcome:
    """The evaluation package's metrics, overall and per segment, meet the policy's
    thresholds; every number is shown next to its bound."""
    from approvals.evidence.evals import evaluate_thresholds, parse_eval_package

    name = CheckName.EVAL_THRESHOLDS
    evidence, data = ctx.document(EvidenceKind.EVAL_PACKAGE)
    if evidence is None:
        return _missing(name, "evaluation package")
    try:
        package = parse_eval_package(data)
        results = evaluate_thresholds(package, ctx.metric_thresholds)
    except (EvidenceError, ValueError) as exc:
        return _outcome(name, False, f"The eval package is unreadable: {exc}", evidence=evidence)
    rows = [
        {
            "metric": r.metric,
            "segment": r.segment,
            "observed": r.observed,
            "comparison": r.comparison,
            "limit": r.limit,
            "passed": r.passed,
        }
        for r in results
    ]
    failed = [r for r in results if not r.passed]
    observed = {"checkpoint_id": package.checkpoint_id, "results": rows[:200]}
    if failed:
        shown = "; ".join(
            f"{r.metric}{'[' + r.segment + ']' if r.segment else ''} = {r.observed} "
            f"(needs {r.comparison} {r.limit})"
            for r in failed[:5]
        )
        return _outcome(
            name,
            False,
            f"{len(failed)} of {len(results)} thresholds missed: {shown}",
            evidence=evidence,
            **observed,
        )
    return _outcome(
        name,
        True,
        f"All {len(results)} thresholds met (overall and per segment).",
        evidence=evidence,
        **observed,
    )


def _checkpoint_names(version: ModelVersion) -> set[str]:
    model = version.registered_model
    return {version.checksum, version.version, f"{model.name}@{version.version}"}


def check_evals_fresh(ctx: CheckContext) -> CheckOutcome:
    """The evaluations describe what is being promoted.

    For a prompt or config version, the package's ``prompt_checksum`` must equal the
    version's checksum (a changed prompt makes earlier evals stale). For a model or an
    adapter, the package's ``checkpoint_id`` must name this version (its sha256, its
    version string or ``name@version``) and, when the package declares a prompt checksum,
    it must be the one ``current_prompt_checksum`` names (if known).
    """
    from approvals.evidence.evals import evals_are_fresh, parse_eval_package

    name = CheckName.EVALS_FRESH
    evidence, data = ctx.document(EvidenceKind.EVAL_PACKAGE)
    if evidence is None:
        return _missing(name, "evaluation package")
    try:
        package = parse_eval_package(data)
    except EvidenceError as exc:
        return _outcome(name, False, f"The eval package is unreadable: {exc}", evidence=evidence)
    version = ctx.version
    observed = {
        "checkpoint_id": package.checkpoint_id,
        "evaluated_prompt_checksum": package.prompt_checksum,
        "evaluated_at": package.evaluated_at.isoformat(),
    }
    if version.registered_model.kind in (ModelKind.PROMPT, ModelKind.CONFIG):
        current = version.checksum
        fresh = evals_are_fresh(package, current)
        detail = (
            "Evaluated with the current prompt/template."
            if fresh
            else f"Stale: evaluated with prompt {package.prompt_checksum}, the version's "
            f"prompt/template is {current}."
        )
        return _outcome(name, fresh, detail, evidence=evidence, current=current, **observed)
    if package.checkpoint_id not in _checkpoint_names(version):
        return _outcome(
            name,
            False,
            f"Stale: the package evaluated checkpoint {package.checkpoint_id!r}, not this "
            f"version ({version.version}, sha256 {version.checksum}).",
            evidence=evidence,
            **observed,
        )
    current = ctx.current_prompt_checksum or None
    if current and not evals_are_fresh(package, current):
        return _outcome(
            name,
            False,
            f"Stale: evaluated with prompt {package.prompt_checksum}, the current "
            f"prompt/template is {current}.",
            evidence=evidence,
            current=current,
            **observed,
        )
    return _outcome(
        name, True, "The package evaluated this checkpoint.", evidence=evidence, **observed
    )


CHECKS: dict[str, Callable[[CheckContext], CheckOutcome]] = {
    CheckName.METADATA_COMPLETE: check_metadata_complete,
    CheckName.ROLLBACK_TARGET: check_rollback_target,
    CheckName.SBOM: check_sbom,
    CheckName.PROVENANCE: check_provenance,
    CheckName.ARTIFACT_CHECKSUM: check_artifact_checksum,
    CheckName.MODEL_SIGNATURE: check_model_signature,
    CheckName.DEPENDENCY_SCAN: check_dependency_scan,
    CheckName.ARTIFACT_SCAN: check_artifact_scan,
    CheckName.EVAL_THRESHOLDS: check_eval_thresholds,
    CheckName.EVALS_FRESH: check_evals_fresh,
}


def checks_for_policy(snapshot: dict[str, Any]) -> list[tuple[str, bool]]:
    """(check name, critical) for every check a policy snapshot runs, in a stable order.

    The always-critical checks run whatever the policy says and are always critical; a
    policy may mark other checks critical (no override) or leave them overridable.
    """
    configured = snapshot.get("checks") or {}
    plan = []
    for name in CHECKS:
        if name in ALWAYS_CRITICAL_CHECKS:
            plan.append((name, True))
        elif name in configured or not configured:
            critical = bool((configured.get(name) or {}).get("critical", False))
            plan.append((name, critical))
    return plan


def is_critical(name: str, snapshot: dict[str, Any]) -> bool:
    if name in ALWAYS_CRITICAL_CHECKS:
        return True
    return bool(((snapshot.get("checks") or {}).get(name) or {}).get("critical", False))


def run_check(name: str, ctx: CheckContext, *, critical: bool) -> CheckOutcome:
    """Run one check; a crash is a failed check (fail closed), never a pass."""
    try:
        outcome = CHECKS[name](ctx)
    except Exception as exc:
        outcome = _outcome(name, False, f"The check could not run: {type(exc).__name__}: {exc}")
    return CheckOutcome(
        name=outcome.name,
        passed=outcome.passed,
        detail=outcome.detail,
        critical=critical,
        observed=outcome.observed,
        evidence_sha256=outcome.evidence_sha256,
    )
