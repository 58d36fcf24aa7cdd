"""What a check run reads and what it binds its results to (ADR 0006): the
``CheckContext`` the checks run on, loaded in phase 1, and the ``Fingerprint`` read then
and again under the lock in phase 3 to tell whether the request changed meanwhile. Reads
only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from approvals import checks as check_registry
from approvals.assessment import current_evidence
from approvals.evidence.provenance import TrustedKey
from approvals.models import CheckResult, PromotionRequest, TrustedSigningKey
from registry import services as registry_services
from registry.choices import VersionState
from registry.models import Evidence, ModelVersion

logger = logging.getLogger(__name__)


def check_context(request: PromotionRequest, version: ModelVersion) -> check_registry.CheckContext:
    """Everything the checks read, in a fixed number of queries."""
    evidence = current_evidence(version)
    # The other approved versions of the model (a re-certified version is approved
    # itself, and is never its own rollback target).
    approved_ids = list(
        ModelVersion.objects.filter(
            registered_model_id=version.registered_model_id, state=VersionState.APPROVED
        )
        .exclude(pk=version.pk)
        .values_list("id", flat=True)
    )
    dataset_uses = list(version.dataset_links.values_list("use", flat=True))
    trusted_keys, pems = [], []
    for key in TrustedSigningKey.objects.filter(is_active=True):
        try:
            trusted_keys.append(
                TrustedKey(keyid=key.keyid, public_key=key.public_key_pem, scheme=key.scheme)
            )
        except ValueError:
            logger.warning("Trusted key %s is unusable; ignored.", key.keyid)
        pems.append(key.public_key_pem.encode())

    def read(document: Evidence) -> bytes:
        with registry_services.evidence_open(document) as handle:
            return handle.read(registry_services.max_evidence_bytes() + 1)

    return check_registry.CheckContext(
        version=version,
        rollback_target=request.rollback_target,
        approved_ids=approved_ids,
        dataset_uses=dataset_uses,
        evidence=evidence,
        read_evidence=read,
        trusted_keys=trusted_keys,
        trusted_key_pems=pems,
        metric_thresholds=request.policy_snapshot.get("metric_thresholds") or {},
        artifact_roots=[Path(root) for root in getattr(settings, "GOVBOARD_ARTIFACT_ROOTS", [])],
        current_prompt_checksum=version.prompt_checksum,
        finding_verdicts=registry_services.effective_triages(version.pk),
        ring=_ring_facts(request),
    )


def _ring_facts(request: PromotionRequest) -> check_registry.release.RingFacts | None:
    """A ring request's facts for its target ring, judged now (None for a version request)."""
    if not request.release_id:
        return None
    from approvals.checks.release import release_facts, ring_criteria_for

    return release_facts(request.release).for_ring(
        environment=request.environment,
        ring=request.target_ring,
        criteria=ring_criteria_for(request.policy_snapshot, request.target_ring),
        now=timezone.now(),
    )


@dataclass(frozen=True)
class Fingerprint:
    """What a run's results are bound to, read before the checks and again under the lock.

    Any difference means the request changed meanwhile: a transition (withdrawn, expired,
    checks restarted: ``state`` and ``state_changed_at``), another run's results stored
    (``runs``), new evidence of any kind or a new artifact checksum (what ``checked_evidence``
    and every sign-off bind to; the evidence row ids too, so a re-upload of the same bytes,
    whose findings are stored per row, counts), or the version moved (``version_state``).
    """

    state: str
    state_changed_at: datetime
    runs: int
    version_state: str
    artifact: str
    evidence: tuple[tuple[str, int, str], ...]


def fingerprint(
    request_id: int, version: ModelVersion, evidence: dict[str, Evidence]
) -> Fingerprint:
    state, changed_at = PromotionRequest.objects.values_list("state", "state_changed_at").get(
        pk=request_id
    )
    return Fingerprint(
        state=state,
        state_changed_at=changed_at,
        runs=CheckResult.objects.filter(request_id=request_id).aggregate(m=Max("run"))["m"] or 0,
        version_state=version.state,
        artifact=version.checksum,
        evidence=tuple(sorted((kind, e.pk, e.sha256) for kind, e in evidence.items())),
    )


def changed_since(snapshot: Fingerprint, now: Fingerprint) -> tuple[str, bool] | None:
    """Why the request changed since the snapshot, and whether a fresh snapshot should
    finish the run (only when the request still waits for exactly this run: new evidence,
    which does not enqueue a run of its own). None when nothing changed."""
    if now == snapshot:
        return None
    if now.state != snapshot.state:
        return f"it is {now.state} now", False
    if now.runs != snapshot.runs:
        return "another check run stored its results first", False
    if now.state_changed_at != snapshot.state_changed_at:
        return "its checks were restarted (a recheck enqueued another run)", False
    return "its evidence or version changed while the checks ran", True
