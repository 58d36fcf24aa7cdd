"""Read paths for promotion requests, always filtered to what the user may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, Case, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from approvals import sla
from approvals.assessment import assess, current_digests
from approvals.choices import OPEN_REQUEST_STATES, Priority, RequestState
from approvals.models import (
    CheckException,
    CheckResult,
    DecisionRecord,
    PromotionRequest,
    SignOff,
)
from core.permissions import ANY_TEAM_ROLE, Verb


def overdue_flag(now: Any) -> Case:
    return Case(
        When(Q(state__in=OPEN_REQUEST_STATES, due_at__lt=now), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


def requests_visible_to(user: Any, *, now: datetime | None = None) -> QuerySet[PromotionRequest]:
    return (
        PromotionRequest.objects.visible_to(user)
        .select_related("version__registered_model__team", "requested_by", "policy")
        .annotate(is_overdue=overdue_flag(now or timezone.now()))
    )


def request_with_evidence(queryset: QuerySet[PromotionRequest]) -> QuerySet[PromotionRequest]:
    return queryset.prefetch_related(
        Prefetch("signoffs", queryset=SignOff.objects.select_related("signer")),
        Prefetch("check_results", queryset=CheckResult.objects.order_by("id")),
        Prefetch("exceptions", queryset=CheckException.objects.select_related("granted_by")),
    )


def review_queue_for(user: Any, *, now: datetime | None = None) -> QuerySet[PromotionRequest]:
    """Requests in review on teams where the user holds a signing role: expedited first,
    then the earliest due, then the oldest. Overdue ones carry ``is_overdue``."""
    return (
        PromotionRequest.objects.visible_to(user, Verb.SIGN, role=ANY_TEAM_ROLE)
        .filter(state=RequestState.IN_REVIEW)
        .exclude(requested_by=user)
        .select_related("version__registered_model__team", "requested_by")
        .annotate(is_overdue=overdue_flag(now or timezone.now()))
        .order_by("-priority", "due_at", "created_at", "id")
    )


def overdue_requests(user: Any, *, now: datetime | None = None) -> QuerySet[PromotionRequest]:
    """Open requests past their due date, visible to the user (dashboards, escalation)."""
    now = now or timezone.now()
    return requests_visible_to(user, now=now).filter(state__in=OPEN_REQUEST_STATES, due_at__lt=now)


def approval_outcome(request_id: int) -> str:
    """Where a request stands after someone acted on it: approved, or what approval
    still waits for (missing roles, exceptions a manager may grant, failed checks)."""
    request = PromotionRequest.objects.select_related("version").get(pk=request_id)
    if request.state == RequestState.APPROVED:
        return "The request is approved and its decision record signed."
    waiting = assess(request).waiting_for
    if request.state != RequestState.IN_REVIEW:
        return f"The request is {request.state}."
    return "Approval also waits for: " + "; ".join(waiting) + "."


def signoff_outcome(signoff: SignOff) -> str:
    """What a signer is told: recorded, and approved or what approval still waits for."""
    return "Your sign-off is recorded. " + approval_outcome(signoff.request_id)


@dataclass
class RequestDetail:
    """One request with everything a reviewer or CI needs, in a bounded number of queries."""

    request: PromotionRequest
    checks: list[CheckResult]
    exceptions: list[CheckException]
    signoffs: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    blocked_reasons: list[str]
    missing_roles: dict[str, int]
    waiting_for: list[str]
    evidence_digests: dict[str, str]
    is_overdue: bool
    decision_record: dict[str, Any] | None = None
    all_check_runs: list[CheckResult] = field(default_factory=list)


def request_detail(user: Any, request_id: int) -> RequestDetail:
    """The request (404-style ``DoesNotExist`` if not visible) with its latest checks,
    live exceptions, sign-offs and their validity, per-step due dates and what blocks it.

    Queries: request, checks, exceptions, sign-offs, decision record, evidence digests
    (plus the permission lookup) — independent of how many of each there are.
    """
    request = requests_visible_to(user).get(pk=request_id)
    results = list(CheckResult.objects.filter(request=request).order_by("id"))
    exceptions = list(CheckException.objects.filter(request=request).select_related("granted_by"))
    signoffs = list(SignOff.objects.filter(request=request).select_related("signer"))
    decision = DecisionRecord.objects.filter(request=request).only("envelope").first()
    digests = current_digests(request.version)
    assessment = assess(
        request, results=results, exceptions=exceptions, signoffs=signoffs, digests=digests
    )
    now = timezone.now()
    steps = []
    review_steps = request.policy_snapshot.get("review_steps") or []
    due_dates = dict(
        sla.step_due_dates(
            request.created_at, review_steps, expedited=request.priority >= Priority.EXPEDITED
        )
    )
    open_request = request.state in OPEN_REQUEST_STATES
    valid_roles = {s.role for s in assessment.valid_signoffs}
    for step in review_steps:
        due = due_dates.get(step["key"])
        done = step["owner_role"] in valid_roles or request.state == RequestState.APPROVED
        steps.append(
            {
                **step,
                "due_at": due,
                "done": done,
                "overdue": bool(open_request and not done and due and due < now),
            }
        )
    blocked = list(assessment.blocked)
    if request.state == RequestState.IN_REVIEW and assessment.missing_roles:
        blocked.append(
            "awaiting sign-off: "
            + ", ".join(f"{role} x{n}" for role, n in sorted(assessment.missing_roles.items()))
        )
    if request.state in (RequestState.APPROVED,):
        blocked = []
    return RequestDetail(
        request=request,
        checks=assessment.results,
        exceptions=exceptions,
        signoffs=[
            {"signoff": s, "valid": not problems, "problems": problems}
            for s, problems in assessment.signoffs
        ],
        steps=steps,
        blocked_reasons=blocked if request.state in OPEN_REQUEST_STATES else [],
        missing_roles=assessment.missing_roles,
        waiting_for=(
            assessment.waiting_for
            if request.state in (*OPEN_REQUEST_STATES, RequestState.CHANGES_REQUESTED)
            else []
        ),
        evidence_digests=digests,
        is_overdue=bool(open_request and request.due_at and request.due_at < now),
        decision_record=decision.envelope if decision else None,
        all_check_runs=results,
    )


__all__ = [
    "RequestDetail",
    "approval_outcome",
    "overdue_flag",
    "overdue_requests",
    "request_detail",
    "request_with_evidence",
    "requests_visible_to",
    "review_queue_for",
    "signoff_outcome",
]
