"""Exceptions: a manager's override of a failed NON-critical check."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from approvals import checks as check_registry
from approvals.assessment import current_digests, latest_run_results
from approvals.choices import OPEN_REQUEST_STATES, RequestState
from approvals.models import CheckException, CheckResult, PromotionRequest
from approvals.services.common import locked_request, transition_request
from approvals.services.decisions import approve_if_ready
from audit.services import record
from audit.verbs import AuditVerb
from core.errors import Conflict, IllegalTransition, InvalidInput, NotPermitted
from core.permissions import Verb, require
from registry import services as registry_services
from registry.choices import VersionState


def _require_reopenable(request: PromotionRequest, latest: Any, snapshot: dict) -> None:
    """A sent-back request returns to review only if an exception can unblock it."""
    critical = sorted(
        r.check_name
        for r in latest
        if not r.passed and (r.critical or check_registry.is_critical(r.check_name, snapshot))
    )
    if critical:
        raise IllegalTransition(
            "The request also failed critical checks (" + ", ".join(critical) + "): no "
            "exception can return it to review. Fix the version and submit it again."
        )
    if request.checked_evidence != current_digests(request.version):
        raise Conflict(
            "The artifact or evidence changed since the checks ran: submit the version again."
        )
    if request.version.state != VersionState.DRAFT:
        raise Conflict(f"The version is {request.version.state} now; it cannot return to review.")
    if (
        PromotionRequest.objects.filter(
            version_id=request.version_id, state__in=OPEN_REQUEST_STATES
        )
        .exclude(pk=request.pk)
        .exists()
    ):
        raise Conflict("A newer promotion request is open for this version.")


@transaction.atomic
def check_override(
    *,
    actor: Any,
    request: PromotionRequest | int,
    check_name: str,
    justification: str,
    expires_at: datetime,
) -> CheckException:
    """Grant an exception for the latest failed result of a non-critical check.

    On a request sent back (``changes_requested``) whose only failures are non-critical,
    on evidence unchanged since the checks ran, the exception returns it to review (and
    its version to candidate): sign-offs made before still count, and the request is
    approved at once if they already make the quorum and nothing else blocks.

    Critical checks are conditions on the version: refused for everyone — managers,
    administrators and superusers alike — before any permission is even considered. Only
    the team's governance managers (object permission ``manage_governance``) may override
    the others, with a written justification and an expiry; the exception is visible in
    the request, the audit trail and reports.
    """
    locked = locked_request(request)
    locked.version = registry_services.lock_version(locked.version_id)
    snapshot = locked.policy_snapshot
    latest = {
        r.check_name: r
        for r in latest_run_results(list(CheckResult.objects.filter(request=locked)))
    }
    result = latest.get(check_name)
    if result is None:
        raise InvalidInput(f"No result for check {check_name!r} on this request.")
    refusal = check_registry.override_refusal(
        check_name, passed=result.passed, critical=result.critical, snapshot=snapshot
    )
    if refusal == check_registry.CRITICAL_REFUSAL:
        raise NotPermitted(
            f"{check_name} is a critical check: it cannot be overridden by anyone. "
            "Fix the version or its evidence and re-run the checks."
        )
    require(
        actor,
        Verb.OVERRIDE,
        locked.version.registered_model.team,
        refusal="Only the team's governance managers may override a check.",
    )
    if refusal == check_registry.PASSED_REFUSAL:
        raise Conflict(f"{check_name} passed; there is nothing to override.")
    if locked.state not in (RequestState.IN_REVIEW, RequestState.CHANGES_REQUESTED):
        raise IllegalTransition(f"A {locked.state} request takes no exceptions.")
    if locked.state == RequestState.CHANGES_REQUESTED:
        _require_reopenable(locked, latest.values(), snapshot)
    justification = (justification or "").strip()
    if len(justification) < 20:
        raise InvalidInput("A written justification (at least 20 characters) is required.")
    now = timezone.now()
    if expires_at <= now:
        raise InvalidInput("The exception must expire in the future.")
    max_days = check_registry.exception_max_days(snapshot)
    if (expires_at - now).days > max_days:
        raise InvalidInput(
            f"Under this request's policy an exception may last at most {max_days} days.",
            errors={"expires_at": [f"At most {max_days} days from now."]},
        )
    if CheckException.objects.filter(check_result=result).exists():
        raise Conflict(f"{check_name} already has an exception for this check run.")
    exception = CheckException.objects.create(
        request=locked,
        check_result=result,
        check_name=check_name,
        # The service refused critical checks above; recording the truth lets the database
        # constraint refuse them too, whoever writes the row.
        check_was_critical=result.critical,
        justification=justification,
        granted_by=actor,
        granted_at=now,
        expires_at=expires_at,
    )
    before = locked.state
    if before == RequestState.CHANGES_REQUESTED:
        transition_request(locked, "reopen")
        locked.decided_at = None
        locked.save()
    if before == RequestState.CHANGES_REQUESTED and not locked.release_id:
        # A ring request's components stay as they are (ADR 0020).
        registry_services.version_mark_candidate(
            actor=actor, version=locked.version, request_id=locked.pk
        )
    record(
        actor=actor,
        verb=AuditVerb.PROMOTION_EXCEPTION_GRANTED,
        target=locked,
        team_id=locked.version.registered_model.team_id,
        data={
            "before": {"state": before},
            "after": {"state": locked.state},
            "check": check_name,
            "check_result": result.pk,
            "detail": result.detail,
            "justification": justification,
            "expires_at": expires_at.isoformat(),
            "exception": exception.pk,
        },
    )
    approve_if_ready(actor=actor, request=locked)
    return exception
