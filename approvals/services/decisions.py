"""The signed decision record and approval.

When the policy's quorum has signed and nothing blocks, the decision is written as an
in-toto Statement (subject = artifact name + sha256; predicate = request, policy version,
evidence digests, check results, exceptions, sign-offs, approval expiry) in a DSSE
envelope signed with the server's Ed25519 key. Only then does the version become
approved. Anyone can verify it with standard DSSE tools and the published public key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from approvals import signing
from approvals.assessment import Assessment, artifact_name, assess
from approvals.choices import RequestPurpose
from approvals.decision_verification import (  # noqa: F401 - re-exported: verification is a read
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    verify_decision_envelope,
)
from approvals.models import DecisionRecord, PromotionRequest, RingEntry
from approvals.services.common import release_subject, transition_request
from approvals.services.webhooks import webhooks_enqueue
from audit.services import record
from audit.verbs import AuditVerb
from core.errors import Conflict
from registry import services as registry_services
from registry.choices import VersionState
from registry.models import ModelVersion


def build_statement(
    request: PromotionRequest, assessment: Assessment, *, decided_at: Any, expires_at: Any
) -> dict[str, Any]:
    version = request.version
    snapshot = request.policy_snapshot
    subject = [{"name": artifact_name(version), "digest": {"sha256": version.checksum}}]
    if request.release_id:
        # A ring request approves the release's whole manifest into one ring.
        release = release_subject(request)
        subject.append({"name": release["name"], "digest": {"sha256": release["manifest_sha256"]}})
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "decision": "approved",
            "purpose": request.purpose,
            "request": {
                "id": request.pk,
                "requested_by": request.requested_by.get_username(),
                "submitted_at": request.created_at.isoformat(),
                "rollback_target": request.rollback_target_id,
            },
            "version": {"id": version.pk, "version": version.version},
            "policy": {
                "id": snapshot.get("id"),
                "name": snapshot.get("name"),
                "version": snapshot.get("version"),
                "required_roles": snapshot.get("required_roles"),
            },
            "evidence": assessment.digests,
            "checks": [
                {
                    "name": r.check_name,
                    "passed": r.passed,
                    "critical": r.critical,
                    "detail": r.detail,
                    "evidence_sha256": r.evidence_sha256,
                    "run": r.run,
                }
                for r in sorted(assessment.results, key=lambda r: r.check_name)
            ],
            "exceptions": [
                {
                    "check": e.check_name,
                    "justification": e.justification,
                    "granted_by": e.granted_by.get_username(),
                    "granted_at": e.granted_at.isoformat(),
                    "expires_at": e.expires_at.isoformat(),
                }
                for e in sorted(assessment.exceptions, key=lambda e: e.pk)
            ],
            "signoffs": [
                {
                    "role": s.role,
                    "signer": s.signer.get_username(),
                    "signed_at": s.signed_at.isoformat(),
                    "meaning": s.meaning,
                    "reauthenticated_with": s.reauth_method,
                    "binding_sha256": s.binding_sha256,
                }
                for s in sorted(assessment.valid_signoffs, key=lambda s: s.pk)
            ],
            "decided_at": decided_at.isoformat(),
            "approval_expires_at": expires_at.isoformat(),
            "development_key": signing.is_development_key(),
        },
    }
    if request.release_id:
        statement["predicate"]["release"] = release_subject(request)
    return statement


def approve_if_ready(*, actor: Any, request: PromotionRequest) -> bool:
    """On a locked request (inside the caller's transaction): if the quorum has signed
    and nothing blocks, sign the decision record and approve request and version."""
    assessment = assess(request)
    if not assessment.ready:
        return False
    now = timezone.now()
    validity = int(request.policy_snapshot.get("approval_validity_days", 90))
    expires_at = now + timedelta(days=validity)
    statement = build_statement(request, assessment, decided_at=now, expires_at=expires_at)
    envelope = signing.dsse_sign(statement)
    if DecisionRecord.objects.filter(request=request).exists():
        raise Conflict("This request already has a decision record.")
    decision = DecisionRecord.objects.create(
        request=request,
        envelope=envelope,
        statement_sha256=signing.sha256_hex(signing.canonical_json(statement)),
        keyid=envelope["signatures"][0]["keyid"],
    )
    before = transition_request(request, "approve")
    request.decided_at = now
    request.reasons = []
    request.save()
    version = request.version
    event = record(
        actor=actor,
        verb=AuditVerb.PROMOTION_APPROVED,
        target=request,
        team_id=version.registered_model.team_id,
        data={
            "before": {"state": before},
            "after": {"state": request.state},
            "approval_expires_at": expires_at.isoformat(),
            "decision_record": decision.pk,
            "statement_sha256": decision.statement_sha256,
            "exceptions": [e.pk for e in assessment.exceptions],
        },
    )
    if request.release_id:
        approved = _enter_ring(actor=actor, request=request, now=now, expires_at=expires_at)
    elif request.purpose == RequestPurpose.RECERTIFICATION:
        # The same version stays approved; its approval runs until the new expiry.
        approved = registry_services.version_approval_extend(
            actor=actor, version=version, request_id=request.pk, expires_at=expires_at
        )
    else:
        approved = registry_services.version_approve(
            actor=actor, version=version, request_id=request.pk, expires_at=expires_at
        )
    webhooks_enqueue(event=event, version=approved)
    from approvals.services.webhooks import nudge_dispatcher

    nudge_dispatcher()
    return True


def _enter_ring(
    *, actor: Any, request: PromotionRequest, now: Any, expires_at: Any
) -> ModelVersion:
    """A ring request's approval (ADR 0020): the release enters the ring (an append-only
    ``RingEntry``), any candidate component is approved through the version-approval path
    with this request as its reason, and ``release.ring_entered`` is audited. Approved
    components keep their own approval and expiry. Returns the anchor as it is now."""
    release = request.release
    entry = RingEntry.objects.create(
        release=release,
        environment=request.environment,
        ring=request.target_ring,
        request=request,
        entered_at=now,
        entered_by=actor,
    )
    candidates = ModelVersion.objects.filter(
        release_components__release=release, state=VersionState.CANDIDATE
    ).order_by("id")
    approved_ids = []
    anchor = request.version
    for version_id in candidates.values_list("id", flat=True):
        approved = registry_services.version_approve(
            actor=actor, version=version_id, request_id=request.pk, expires_at=expires_at
        )
        approved_ids.append(approved.pk)
        if approved.pk == anchor.pk:
            anchor = approved
    record(
        actor=actor,
        verb=AuditVerb.RELEASE_RING_ENTERED,
        target=release,
        team_id=release.team_id,
        data={
            "release": release_subject(request),
            "ring_entry": entry.pk,
            "promotion_request": request.pk,
            "entered_at": now.isoformat(),
            "components_approved": approved_ids,
            "before": {"rings": _rings_before(release, request.environment, entry.pk)},
            "after": {"ring": request.target_ring},
        },
    )
    return anchor


def _rings_before(release: Any, environment: str, entry_id: int) -> list[str]:
    return list(
        RingEntry.objects.filter(release=release, environment=environment)
        .exclude(pk=entry_id)
        .order_by("entered_at", "id")
        .values_list("ring", flat=True)
    )


def decision_record_for(request: PromotionRequest | int) -> dict[str, Any] | None:
    """The DSSE envelope of a request's decision record (None before approval)."""
    pk = request.pk if isinstance(request, PromotionRequest) else request
    decision = DecisionRecord.objects.filter(request_id=pk).only("envelope").first()
    return decision.envelope if decision else None


def signing_public_key_pem() -> str:
    return signing.signing_public_key_pem()
