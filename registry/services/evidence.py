"""Evidence uploads: stored under server-made keys, digested, append-only."""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction

from audit.services import record
from audit.verbs import AuditVerb
from core.errors import DomainError, IllegalTransition, InvalidInput
from core.permissions import Verb, require
from registry.choices import EvidenceKind, VersionState
from registry.models import Evidence, ModelVersion
from registry.services.versions import lock_version
from registry.validators import SHA256_HEX

# Evidence may change while a version is being prepared or reviewed (a change after a
# sign-off invalidates that sign-off); an approved, deprecated or retired version is sealed.
EVIDENCE_OPEN_STATES = (VersionState.DRAFT, VersionState.CANDIDATE)
# After approval, only monitoring evidence: scan reports (a nightly vulnerability scan CI
# uploads) are added to an approved version, as new rows that reopen nothing (the
# approval, its sign-offs and its decision record bind the evidence they saw, by digest);
# the ``vulnerable`` lifecycle rule reads them. Deprecated and retired versions take
# nothing more: no rule judges them (a deprecated one is already blocked for new usage,
# its replacement is what CI should scan) and a retired version's record is kept, sealed,
# for audit.
MONITORING_EVIDENCE_KINDS = (EvidenceKind.DEPENDENCY_SCAN, EvidenceKind.ARTIFACT_SCAN)
# Re-certification (approvals.services.recertification) needs evidence newer than the
# approval it renews: an approved version takes a fresh eval package and scan reports, as
# new rows that reopen nothing (its approval, sign-offs and decision record bind the
# evidence they saw, by digest).
RECERTIFICATION_EVIDENCE_KINDS = (
    EvidenceKind.EVAL_PACKAGE,
    EvidenceKind.DEPENDENCY_SCAN,
    EvidenceKind.ARTIFACT_SCAN,
)
_CHUNK = 1024 * 1024


class EvidenceTooLarge(DomainError):
    status_code = 413
    code = "payload-too-large"
    title = "Evidence too large"


def max_evidence_bytes() -> int:
    return int(settings.GOVBOARD_MAX_EVIDENCE_BYTES)


def _store(stream: IO[bytes], *, limit: int) -> tuple[str, str, int]:
    """Copy the stream to storage under a fresh key, hashing as it goes; refuse past limit.

    The bytes go through a temporary file, so memory stays bounded whatever the size.
    """
    digest = hashlib.sha256()
    size = 0
    with tempfile.TemporaryFile() as spool:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise EvidenceTooLarge(f"Evidence is limited to {limit} bytes.")
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        key = default_storage.save(f"evidence/{uuid.uuid4().hex}", File(spool))
    return key, digest.hexdigest(), size


@transaction.atomic
def evidence_attach(
    *,
    actor: Any,
    version: ModelVersion | int,
    kind: str,
    content: IO[bytes] | File,
    media_type: str,
    client_filename: str = "",
    declared_sha256: str | None = None,
) -> Evidence:
    """Store one evidence document for a draft or candidate version, or a scan report
    for an approved one (``evidence_accepted``).

    The client's file name is kept as metadata only; the file is stored under a key the
    server makes. When the client declares a sha256, a mismatch refuses the upload and
    nothing is kept.
    """
    if kind not in EvidenceKind.values:
        raise InvalidInput(f"Unknown evidence kind {kind!r}.", errors={"kind": ["unknown"]})
    if declared_sha256 is not None and not SHA256_HEX.match(declared_sha256):
        raise InvalidInput("The declared sha256 must be 64 lowercase hex characters.")
    locked = lock_version(version)
    team = locked.registered_model.team
    require(
        actor, Verb.REGISTER, team, refusal="You may not attach evidence to this team's versions."
    )
    if not evidence_accepted(locked.state, kind):
        why = (
            "only scan reports and eval packages (re-certification) are added after approval"
            if locked.state == VersionState.APPROVED
            else f"a {locked.state} version takes no more evidence"
        )
        raise IllegalTransition(
            f"Evidence cannot be added to a {locked.state} version.", errors={"kind": [why]}
        )
    key, sha256, size = _store(content, limit=max_evidence_bytes())
    try:
        if declared_sha256 is not None and declared_sha256 != sha256:
            raise InvalidInput(
                "The uploaded content does not match the declared sha256.",
                errors={"sha256": [f"declared {declared_sha256}, received {sha256}"]},
            )
        evidence = Evidence.objects.create(
            version=locked,
            kind=kind,
            media_type=media_type[:100],
            client_filename=client_filename[:255],
            storage_key=key,
            sha256=sha256,
            size=size,
            uploaded_by=actor,
        )
        record(
            actor=actor,
            verb=AuditVerb.EVIDENCE_ATTACHED,
            target=evidence,
            team_id=team.pk,
            data={
                "version": locked.pk,
                "kind": kind,
                "sha256": sha256,
                "size": size,
                "client_filename": client_filename[:255],
                "before": None,
                "after": {"kind": kind, "sha256": sha256, "size": size},
            },
        )
    except BaseException:
        default_storage.delete(key)
        raise
    return evidence


def evidence_accepted(state: str, kind: str) -> bool:
    """Whether a version in ``state`` takes new evidence of ``kind`` (see above)."""
    if state in EVIDENCE_OPEN_STATES:
        return True
    return state == VersionState.APPROVED and (
        kind in MONITORING_EVIDENCE_KINDS or kind in RECERTIFICATION_EVIDENCE_KINDS
    )


def evidence_open(evidence: Evidence) -> IO[bytes]:
    """Open the stored bytes of an evidence document (read-only)."""
    return default_storage.open(evidence.storage_key, "rb")
