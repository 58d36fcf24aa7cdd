"""Opening, checking, re-checking, withdrawing, sending back, rejecting and expediting
promotion requests."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from approvals import checks as check_registry
from approvals import sla
from approvals.assessment import current_evidence, evidence_digests
from approvals.choices import OPEN_REQUEST_STATES, Priority, RequestState
from approvals.evidence.provenance import TrustedKey
from approvals.models import CheckResult, PromotionRequest, TrustedSigningKey
from approvals.services.common import locked_request, transition_request
from approvals.services.policies import policy_for_version
from approvals.services.webhooks import webhooks_enqueue
from audit.services import actor_label_for, record
from audit.verbs import AuditVerb
from core.errors import Conflict, IllegalTransition, InvalidInput, NotPermitted
from registry import permissions
from registry import services as registry_services
from registry.choices import ApproverRole, VersionState
from registry.models import Evidence, ModelVersion

logger = logging.getLogger(__name__)


def _enqueue_checks(request_id: int) -> None:
    """After commit: hand the request to a worker. If the broker is down the request
    stays ``submitted`` and the periodic sweep enqueues it again (it is its own outbox)."""
    from approvals.tasks import run_promotion_checks

    try:
        run_promotion_checks.delay(request_id)
    except Exception:
        logger.warning("Could not enqueue checks for request %s; the sweep will.", request_id)


def _due_at(request: PromotionRequest) -> Any:
    steps = request.policy_snapshot.get("review_steps") or []
    if not steps:
        return None
    dates = sla.step_due_dates(
        request.created_at, steps, expedited=request.priority >= Priority.EXPEDITED
    )
    return dates[-1][1]


@transaction.atomic
def promotion_request_submit(
    *,
    actor: Any,
    version: ModelVersion | int,
    rollback_target: ModelVersion | None = None,
    rollback_plan: str = "",
    run_checks_now: bool | None = None,
) -> PromotionRequest:
    """Open a promotion request for a draft version under the policy that applies to it.

    The request starts ``submitted`` with a snapshot of the policy and its due date. The
    automated checks run in a worker (enqueued on commit); with ``run_checks_now`` (or the
    ``GOVBOARD_RUN_CHECKS_INLINE`` setting) they run in this transaction instead.
    """
    locked = registry_services.lock_version(version)
    team = locked.registered_model.team
    if not permissions.can_register_for_team(actor, team):
        raise NotPermitted("You may not request promotion for this team's versions.")
    if locked.state != VersionState.DRAFT:
        raise IllegalTransition(
            f"Only a draft version can be submitted for promotion; this one is {locked.state}."
        )
    if rollback_target is not None and rollback_target.pk == locked.pk:
        raise InvalidInput("A version cannot be its own rollback target.")
    policy = policy_for_version(locked)
    request = PromotionRequest(
        version=locked,
        policy=policy,
        policy_snapshot=policy.snapshot(),
        requested_by=actor,
        rollback_target=rollback_target,
        rollback_plan=rollback_plan,
        created_at=timezone.now(),
    )
    request.due_at = _due_at(request)
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError as exc:
        raise Conflict("This version already has an open promotion request.") from exc
    record(
        actor=actor,
        verb=AuditVerb.PROMOTION_SUBMITTED,
        target=request,
        team_id=team.pk,
        data={
            "version": locked.pk,
            "policy": {"id": policy.pk, "name": policy.name, "version": policy.version},
            "rollback_target": rollback_target.pk if rollback_target else None,
            "due_at": request.due_at.isoformat() if request.due_at else None,
        },
    )
    inline = (
        run_checks_now
        if run_checks_now is not None
        else getattr(settings, "GOVBOARD_RUN_CHECKS_INLINE", False)
    )
    if inline:
        return _run_checks(actor=actor, request=request, via=None)
    transaction.on_commit(lambda: _enqueue_checks(request.pk))
    return request


def _check_context(request: PromotionRequest, version: ModelVersion) -> check_registry.CheckContext:
    """Everything the checks read, in a fixed number of queries."""
    evidence = current_evidence(version)
    approved_ids = list(
        ModelVersion.objects.filter(
            registered_model_id=version.registered_model_id, state=VersionState.APPROVED
        ).values_list("id", flat=True)
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
    )


def _run_checks(*, actor: Any, request: PromotionRequest, via: str | None) -> PromotionRequest:
    """Run the policy's checks on a locked request in ``submitted``/``checking``/``in_review``
    and move it: any critical failure → ``changes_requested`` (version back to draft);
    otherwise → ``in_review`` (version candidate), with non-critical failures blocking
    approval until fixed or excepted."""
    version = request.version
    if request.state == RequestState.SUBMITTED:
        before = transition_request(request, "start_checks")
    elif request.state == RequestState.IN_REVIEW:
        before = transition_request(request, "restart_checks")
    elif request.state == RequestState.CHECKING:
        before = RequestState.CHECKING
    else:
        raise IllegalTransition(f"A {request.state} request cannot be checked.")
    ctx = _check_context(request, version)
    plan = check_registry.checks_for_policy(request.policy_snapshot)
    outcomes = [check_registry.run_check(name, ctx, critical=critical) for name, critical in plan]
    run = (CheckResult.objects.filter(request=request).aggregate(m=Max("run"))["m"] or 0) + 1
    # Check results are append-only rows without simple-history (the audit event below
    # carries them), so one multi-row insert is allowed here.
    CheckResult.objects.bulk_create(
        CheckResult(
            request=request,
            run=run,
            check_name=outcome.name,
            passed=outcome.passed,
            critical=outcome.critical,
            detail=outcome.detail,
            observed=outcome.observed,
            evidence_sha256=outcome.evidence_sha256,
        )
        for outcome in outcomes
    )
    _ingest_findings(ctx)
    critical_failures = [o for o in outcomes if not o.passed and o.critical]
    other_failures = [o for o in outcomes if not o.passed and not o.critical]
    request.checked_evidence = evidence_digests(ctx.evidence, version)
    request.checked_at = timezone.now()
    if critical_failures:
        transition_request(request, "request_changes")
        request.reasons = [f"{o.name}: {o.detail}" for o in critical_failures + other_failures]
    else:
        transition_request(request, "enter_review")
        request.reasons = [f"{o.name}: {o.detail}" for o in other_failures]
    request.save()
    record(
        actor=actor,
        actor_label=actor_label_for(actor, via=via),
        verb=AuditVerb.PROMOTION_CHECKED,
        target=request,
        team_id=version.registered_model.team_id,
        data={
            "before": {"state": before},
            "after": {"state": request.state},
            "run": run,
            "evidence": request.checked_evidence,
            "checks": [
                {"name": o.name, "passed": o.passed, "critical": o.critical, "detail": o.detail}
                for o in outcomes
            ],
        },
    )
    if request.state == RequestState.IN_REVIEW and version.state == VersionState.DRAFT:
        registry_services.version_mark_candidate(
            actor=actor, version=version, request_id=request.pk
        )
    elif (
        request.state == RequestState.CHANGES_REQUESTED and version.state == VersionState.CANDIDATE
    ):
        registry_services.version_return_to_draft(
            actor=actor,
            version=version,
            request_id=request.pk,
            reason="critical checks failed: " + ", ".join(o.name for o in critical_failures),
        )
    return request


def _ingest_findings(ctx: check_registry.CheckContext) -> None:
    """Store the dependency report's findings once per evidence document (set-based),
    from the report the check already parsed."""
    from approvals.evidence import EvidenceError
    from registry.models import VulnerabilityFinding

    evidence, report = ctx.dependency_report
    if evidence is None or isinstance(report, EvidenceError):
        return
    if VulnerabilityFinding.objects.filter(evidence=evidence).exists():
        return
    VulnerabilityFinding.objects.bulk_create(
        VulnerabilityFinding(
            evidence=evidence,
            vulnerability_id=f.vulnerability_id,
            package=f.package,
            installed_version=f.installed_version,
            severity=f.severity,
            fixed_version=f.fixed_version,
            status=f.status,
            source_format=f.source_format,
        )
        for f in report.findings
    )


@transaction.atomic
def promotion_request_run_checks(*, request_id: int, via: str) -> PromotionRequest | None:
    """The worker's entry point: idempotent. Runs the checks for a request that is
    ``submitted`` or ``checking``; anything else is left alone (already done)."""
    try:
        request = locked_request(request_id)
    except PromotionRequest.DoesNotExist:
        return None
    if request.state not in (RequestState.SUBMITTED, RequestState.CHECKING):
        return request
    return _run_checks(actor=None, request=request, via=via)


def _may_act_for_request(actor: Any, request: PromotionRequest) -> bool:
    team = request.version.registered_model.team
    return permissions.can_register_for_team(actor, team) or permissions.can_manage_team(
        actor, team
    )


@transaction.atomic
def promotion_request_recheck(*, actor: Any, request: PromotionRequest | int) -> PromotionRequest:
    """Re-run the checks (after new evidence, or to clear a transient failure). The team's
    CI or a governance manager; the request must be open. Runs in a worker."""
    locked = locked_request(request)
    if not _may_act_for_request(actor, locked):
        raise NotPermitted("You may not re-run checks for this team's requests.")
    if locked.state not in OPEN_REQUEST_STATES:
        raise IllegalTransition(f"A {locked.state} request cannot be re-checked.")
    before = locked.state
    if locked.state == RequestState.IN_REVIEW:
        transition_request(locked, "restart_checks")
        locked.save()
    record(
        actor=actor,
        verb=AuditVerb.PROMOTION_RECHECK_REQUESTED,
        target=locked,
        team_id=locked.version.registered_model.team_id,
        data={"before": {"state": before}, "after": {"state": locked.state}},
    )
    if getattr(settings, "GOVBOARD_RUN_CHECKS_INLINE", False):
        return _run_checks(actor=actor, request=locked, via=None)
    transaction.on_commit(lambda: _enqueue_checks(locked.pk))
    return locked


def close_request(
    *,
    actor: Any,
    request: PromotionRequest,
    transition: str,
    verb: str,
    reasons: list[str],
    draft_reason: str | None,
    via: str | None = None,
    extra: dict[str, Any] | None = None,
    now: Any = None,
) -> PromotionRequest:
    """Decide a request the caller has locked: withdrawn, rejected, sent back, expired.

    The one path for closing a request. The version is locked second (the lock order of
    every service: request, then version) and re-read under its lock before deciding
    whether it goes back to draft (``draft_reason``): a deprecation committed meanwhile
    is seen, never overwritten from a stale read.
    """
    version = registry_services.lock_version(request.version_id)
    request.version = version
    before = transition_request(request, transition)
    request.decided_at = now or timezone.now()
    request.reasons = reasons
    request.save()
    event = record(
        actor=actor,
        actor_label=actor_label_for(actor, via=via),
        verb=verb,
        target=request,
        team_id=version.registered_model.team_id,
        data={"before": {"state": before}, "after": {"state": request.state}} | (extra or {}),
    )
    if draft_reason is not None and version.state == VersionState.CANDIDATE:
        version = registry_services.version_return_to_draft(
            actor=actor, via=via, version=version, request_id=request.pk, reason=draft_reason
        )
    webhooks_enqueue(event=event, version=version)
    return request


@transaction.atomic
def promotion_request_withdraw(*, actor: Any, request: PromotionRequest | int) -> PromotionRequest:
    """open → withdrawn, by the requester, the team's CI or a governance manager."""
    locked = locked_request(request)
    if actor.pk != locked.requested_by_id and not _may_act_for_request(actor, locked):
        raise NotPermitted("You may not withdraw this request.")
    return close_request(
        actor=actor,
        request=locked,
        transition="withdraw",
        verb=AuditVerb.PROMOTION_WITHDRAWN,
        reasons=locked.reasons,
        draft_reason="promotion request withdrawn",
    )


def _require_reviewer(actor: Any, request: PromotionRequest) -> None:
    team = request.version.registered_model.team
    required = request.policy_snapshot["required_roles"]
    if not any(permissions.can_sign_for_role(actor, team, role) for role in required):
        raise NotPermitted("Only an approver of a required role may decide this request.")


@transaction.atomic
def promotion_request_reject(
    *, actor: Any, request: PromotionRequest | int, reason: str
) -> PromotionRequest:
    """A board member of a required role rejects; the version goes back to draft."""
    if not reason.strip():
        raise InvalidInput("A reason is required to reject a request.")
    locked = locked_request(request)
    _require_reviewer(actor, locked)
    return close_request(
        actor=actor,
        request=locked,
        transition="reject",
        verb=AuditVerb.PROMOTION_REJECTED,
        reasons=[f"rejected: {reason}"],
        draft_reason=f"rejected: {reason}",
        extra={"reason": reason},
    )


@transaction.atomic
def promotion_request_request_changes(
    *, actor: Any, request: PromotionRequest | int, reasons: list[str]
) -> PromotionRequest:
    """A board member sends the request back to CI with reasons (in_review →
    changes_requested); CI fixes and submits a new request."""
    reasons = [r.strip() for r in reasons if r and r.strip()]
    if not reasons:
        raise InvalidInput("Say what must change.")
    locked = locked_request(request)
    _require_reviewer(actor, locked)
    return close_request(
        actor=actor,
        request=locked,
        transition="request_changes",
        verb=AuditVerb.PROMOTION_CHANGES_REQUESTED,
        reasons=reasons,
        draft_reason="changes requested: " + "; ".join(reasons),
        extra={"reasons": reasons},
    )


@transaction.atomic
def promotion_request_expedite(
    *, actor: Any, request: PromotionRequest | int, reason: str
) -> PromotionRequest:
    """A governance manager raises the priority and halves every step's SLA. Expediting
    never skips a check or a sign-off."""
    if not reason.strip():
        raise InvalidInput("A reason is required to expedite a request.")
    locked = locked_request(request)
    if not permissions.can_manage_team(actor, locked.version.registered_model.team):
        raise NotPermitted("Only the team's governance managers may expedite.")
    if locked.state not in OPEN_REQUEST_STATES:
        raise IllegalTransition(f"A {locked.state} request cannot be expedited.")
    if locked.priority >= Priority.EXPEDITED:
        raise Conflict("The request is already expedited.")
    before = {"priority": locked.priority, "due_at": locked.due_at}
    locked.priority = Priority.EXPEDITED
    locked.expedite_reason = reason
    locked.due_at = _due_at(locked)
    locked.save()
    record(
        actor=actor,
        verb=AuditVerb.PROMOTION_EXPEDITED,
        target=locked,
        team_id=locked.version.registered_model.team_id,
        data={
            "before": {
                "priority": before["priority"],
                "due_at": before["due_at"].isoformat() if before["due_at"] else None,
            },
            "after": {
                "priority": locked.priority,
                "due_at": locked.due_at.isoformat() if locked.due_at else None,
            },
            "reason": reason,
        },
    )
    return locked


def requests_stuck_in_checks(*, older_than: timedelta, limit: int = 200) -> list[int]:
    """Ids of requests waiting in submitted/checking longer than ``older_than``."""
    cutoff = timezone.now() - older_than
    return list(
        PromotionRequest.objects.filter(
            state__in=[RequestState.SUBMITTED, RequestState.CHECKING],
            state_changed_at__lte=cutoff,
        )
        .order_by("state_changed_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def signing_roles(actor: Any, request: PromotionRequest) -> list[str]:
    """The roles ``actor`` may sign for on this request (holds the role, policy needs it)."""
    team = request.version.registered_model.team
    required = request.policy_snapshot.get("required_roles", {})
    return [r for r in permissions.signing_roles_for(actor, team) if r in required]


__all__ = [
    "ApproverRole",
    "promotion_request_expedite",
    "promotion_request_recheck",
    "promotion_request_reject",
    "promotion_request_request_changes",
    "promotion_request_run_checks",
    "promotion_request_submit",
    "promotion_request_withdraw",
    "requests_stuck_in_checks",
    "signing_roles",
]
