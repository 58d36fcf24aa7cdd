"""Exceptions: a manager's override of a failed NON-critical check."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from approvals import checks as check_registry
from approvals.models import CheckException, CheckResult, PromotionRequest
from approvals.services.common import latest_run_results, locked_request
from approvals.services.decisions import approve_if_ready
from audit.services import record
from govboard.errors import Conflict, IllegalTransition, InvalidInput, NotPermitted
from registry import permissions
from registry import services as registry_services

MAX_EXCEPTION_DAYS = 365


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
    if result.critical or check_registry.is_critical(check_name, snapshot):
        raise NotPermitted(
            f"{check_name} is a critical check: it cannot be overridden by anyone. "
            "Fix the version or its evidence and re-run the checks."
        )
    if not permissions.can_manage_team(actor, locked.version.registered_model.team):
        raise NotPermitted("Only the team's governance managers may override a check.")
    if result.passed:
        raise Conflict(f"{check_name} passed; there is nothing to override.")
    if locked.state != "in_review":
        raise IllegalTransition(f"A {locked.state} request takes no exceptions.")
    justification = (justification or "").strip()
    if len(justification) < 20:
        raise InvalidInput("A written justification (at least 20 characters) is required.")
    now = timezone.now()
    if expires_at <= now:
        raise InvalidInput("The exception must expire in the future.")
    if (expires_at - now).days > MAX_EXCEPTION_DAYS:
        raise InvalidInput(f"An exception may last at most {MAX_EXCEPTION_DAYS} days.")
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
    record(
        actor=actor,
        verb="promotion.exception_granted",
        target=locked,
        team_id=locked.version.registered_model.team_id,
        data={
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
