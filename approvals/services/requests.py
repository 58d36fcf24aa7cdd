"""Opening, withdrawing, sending back, rejecting and expediting promotion requests.
Running their checks (and re-checking) is ``approvals.services.checking``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals import sla
from approvals.choices import OPEN_REQUEST_STATES, Priority, RequestPurpose, RequestState
from approvals.models import GovernancePolicy, PromotionRequest
from approvals.services import checking
from approvals.services.common import locked_request, transition_request
from approvals.services.policies import policy_for_version
from approvals.services.webhooks import webhooks_enqueue
from audit.services import actor_label_for, record
from audit.verbs import AuditVerb
from core.errors import Conflict, IllegalTransition, InvalidInput, NotPermitted
from core.permissions import Verb, allowed, require, roles_held
from registry import services as registry_services
from registry.choices import VersionState
from registry.models import ModelVersion


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
    require(
        actor,
        Verb.REGISTER,
        team,
        refusal="You may not request promotion for this team's versions.",
    )
    if locked.state != VersionState.DRAFT:
        raise IllegalTransition(
            f"Only a draft version can be submitted for promotion; this one is {locked.state}."
        )
    return open_request(
        actor=actor,
        version=locked,
        policy=policy_for_version(locked),
        rollback_target=rollback_target,
        rollback_plan=rollback_plan,
        run_checks_now=run_checks_now,
    )


def open_request(
    *,
    actor: Any,
    version: ModelVersion,
    policy: GovernancePolicy,
    policy_snapshot: dict[str, Any] | None = None,
    purpose: str = RequestPurpose.PROMOTION,
    rollback_target: ModelVersion | None = None,
    rollback_plan: str = "",
    run_checks_now: bool | None = None,
    release: Any = None,
    environment: str = "",
    target_ring: str = "",
    now: Any = None,
) -> PromotionRequest:
    """Open a request on a version the caller holds locked and may act on: saved under
    ``policy`` (its snapshot unless one is given), audited, its checks enqueued on commit
    (or run now). The one opening path of promotion, re-certification and ring requests
    (``release``, ``environment`` and ``target_ring`` set: ``approvals.services.rings``)."""
    if rollback_target is not None and rollback_target.pk == version.pk:
        raise InvalidInput("A version cannot be its own rollback target.")
    # The request's own copy of its team (a ring request's release has the same one: the
    # model refuses a new request naming another, approvals.models.request_team).
    team = version.registered_model.team
    request = PromotionRequest(
        version=version,
        team=team,
        release=release,
        environment=environment,
        target_ring=target_ring,
        policy=policy,
        policy_snapshot=policy_snapshot or policy.snapshot(),
        purpose=purpose,
        requested_by=actor,
        rollback_target=rollback_target,
        rollback_plan=rollback_plan,
        created_at=now or timezone.now(),
    )
    request.due_at = _due_at(request)
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError as exc:
        if release is not None:
            raise Conflict(
                f"Release {release} already has an open request for {target_ring} in {environment}."
            ) from exc
        raise Conflict("This version already has an open promotion request.") from exc
    snapshot = request.policy_snapshot
    ring_data = (
        {
            "release": {
                "id": release.pk,
                "name": release.name,
                "version": release.version,
                "manifest_sha256": release.manifest_sha256,
            },
            "environment": environment,
            "ring": target_ring,
        }
        if release is not None
        else {}
    )
    record(
        actor=actor,
        verb=AuditVerb.PROMOTION_SUBMITTED,
        target=request,
        team_id=team.pk,
        data=ring_data
        | {
            "version": version.pk,
            "purpose": purpose,
            "policy": {
                "id": policy.pk,
                "name": snapshot.get("name", policy.name),
                "version": snapshot.get("version", policy.version),
            },
            "rollback_target": rollback_target.pk if rollback_target else None,
            "due_at": request.due_at.isoformat() if request.due_at else None,
            "before": None,
            "after": {"state": request.state},
        },
    )
    inline = (
        run_checks_now
        if run_checks_now is not None
        else getattr(settings, "GOVBOARD_RUN_CHECKS_INLINE", False)
    )
    if inline:
        return checking.run_checks(actor=actor, request=request, via=None)
    transaction.on_commit(lambda: checking.enqueue_checks(request.pk))
    return request


def _may_act_for_request(actor: Any, request: PromotionRequest) -> bool:
    """The team's CI or a governance manager (re-check, withdraw): ``Verb.RECHECK``."""
    return allowed(actor, Verb.RECHECK, request)


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
    # A ring request never returns its anchor to draft: the components' lifecycle is
    # their own requests' (ADR 0020).
    back_to_draft = draft_reason is not None and not request.release_id
    if back_to_draft and version.state == VersionState.CANDIDATE:
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
    if not any(allowed(actor, Verb.SIGN, team, role=role) for role in required):
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
    require(actor, Verb.EXPEDITE, locked.version.registered_model.team)
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
    return [r for r in roles_held(actor, team) if r in required]


__all__ = [
    "promotion_request_expedite",
    "promotion_request_reject",
    "promotion_request_request_changes",
    "promotion_request_submit",
    "promotion_request_withdraw",
    "requests_stuck_in_checks",
    "signing_roles",
]
