"""The supply-chain checks: SBOM, provenance, the artifact's checksum and signature, the
dependency scan and the artifact scan (our own for local artifacts, else CI's report)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from approvals.checks.context import CheckContext, CheckOutcome, make_outcome, missing_document
from approvals.choices import CheckName
from approvals.evidence import EvidenceError
from registry.choices import EvidenceKind


def check_sbom(ctx: CheckContext) -> CheckOutcome:
    """An SBOM is attached and is valid CycloneDX JSON of the version it declares."""
    from approvals.evidence.sbom import validate_cyclonedx_json

    name = CheckName.SBOM
    evidence, data = ctx.document(EvidenceKind.SBOM)
    if evidence is None:
        return missing_document(name, "SBOM")
    try:
        report = validate_cyclonedx_json(data)
    except EvidenceError as exc:
        return make_outcome(name, False, f"The SBOM is unreadable: {exc}", evidence=evidence)
    if not report.valid:
        return make_outcome(
            name,
            False,
            "The SBOM is not valid CycloneDX: " + "; ".join(report.errors[:5]),
            evidence=evidence,
            spec_version=report.spec_version,
            errors=report.errors,
        )
    return make_outcome(
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
        return missing_document(name, "provenance")
    if isinstance(report, EvidenceError):
        return make_outcome(
            name, False, f"The provenance is unreadable: {report}", evidence=evidence
        )
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
        return make_outcome(
            name,
            False,
            "Provenance fails: " + "; ".join(problems[:5]),
            evidence=evidence,
            **observed,
        )
    how = f"signed by trusted key {report.signer_keyid}" if report.signed else "unsigned statement"
    return make_outcome(
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
        return make_outcome(
            name, False, f"The artifact cannot be read here: {why}.", local=True, reason=why
        )
    report = ctx.local_scan
    if isinstance(report, EvidenceError):
        return make_outcome(name, False, f"The artifact cannot be read: {report}", local=True)
    if not report.checksum_matches:
        return make_outcome(
            name,
            False,
            f"Checksum mismatch: the artifact hashes to {report.actual_sha256}, "
            f"the version says {ctx.version.checksum}.",
            local=True,
            actual_sha256=report.actual_sha256,
            expected_sha256=ctx.version.checksum,
        )
    return make_outcome(
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
        return make_outcome(
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
    return make_outcome(
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
        return make_outcome(
            name,
            True,
            f"Not applicable: the model directory is not readable here ({why}).",
            evidence=evidence,
            applicable=False,
            verified=False,
        )
    if evidence is None:
        return missing_document(name, "model signature")
    with tempfile.TemporaryDirectory(prefix="govboard-sig-") as scratch:
        bundle = Path(scratch) / "model.sig"
        bundle.write_bytes(data)
        try:
            report = verify_model_signature(path, bundle, public_keys=ctx.trusted_key_pems)
        except EvidenceError as exc:
            return make_outcome(name, False, f"Cannot verify: {exc}", evidence=evidence)
    if not report.verified:
        return make_outcome(
            name,
            False,
            "The model signature does not verify: " + "; ".join(report.errors[:3]),
            evidence=evidence,
            errors=report.errors,
        )
    return make_outcome(
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
        return missing_document(name, "dependency scan report")
    if isinstance(report, EvidenceError):
        return make_outcome(
            name, False, f"The scan report is unreadable: {report}", evidence=evidence
        )
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
        return make_outcome(name, False, "; ".join(parts) + ".", evidence=evidence, **observed)
    return make_outcome(
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
            return make_outcome(
                name, False, f"The artifact cannot be scanned: {report}", local=True
            )
        source = "scanned here"
    else:
        evidence, data = ctx.document(EvidenceKind.ARTIFACT_SCAN)
        if evidence is None:
            return make_outcome(
                name,
                False,
                f"Not scannable here ({why}) and no CI artifact scan report is attached.",
                local=False,
            )
        try:
            report = parse_artifact_scan_report(data)
        except EvidenceError as exc:
            return make_outcome(
                name, False, f"The scan report is unreadable: {exc}", evidence=evidence
            )
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
        return make_outcome(
            name,
            False,
            f"{len(unsafe)} unsafe findings ({source}): " + "; ".join(unsafe[:3]),
            evidence=evidence,
            **observed,
        )
    return make_outcome(
        name,
        True,
        f"{report.files_scanned} files, nothing unsafe ({source}, {report.scanner}).",
        evidence=evidence,
        **observed,
    )
