"""Read paths for promotion requests and incidents, always filtered to what the user may
see."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from approvals import sla
from approvals.assessment import assess, counting_signoffs, current_digests, role_missing_q
from approvals.choices import OPEN_REQUEST_STATES, Priority, RequestState
from approvals.models import (
    CheckException,
    CheckResult,
    DecisionRecord,
    Incident,
    IncidentTag,
    IncidentTimelineEntry,
    PromotionRequest,
    SignOff,
)
from approvals.models.request_team import REQUEST_TEAM
from core.permissions import Verb, roles_held, team_q
from registry.models import ModelVersion


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


def request_list_rows(queryset: QuerySet[PromotionRequest]) -> QuerySet[PromotionRequest]:
    """``queryset``'s rows with only the columns the API's request list shows
    (``approvals.api.PromotionRequestSerializer``) and its cursor orders by, their sign-offs
    and check results likewise.

    A page of 100 decoded each request's version, model, team and policy rows and every
    sign-off's signed binding and digests, none of which it shows: the objects of one page
    made Python's full garbage collections land inside one request in ten, at 130-200 ms
    (issue 14, ``bench/README.md``)."""
    return (
        queryset.select_related(None)
        .select_related("requested_by")
        .only(
            *("id", "version", "state", "purpose", "policy_snapshot", "rollback_target"),
            *("rollback_plan", "reasons", "created_at", "decided_at", "priority", "due_at"),
            *("requested_by", "requested_by__username"),
        )
        .prefetch_related(
            Prefetch(
                "signoffs",
                queryset=SignOff.objects.select_related("signer").only(
                    *("request", "role", "signed_at", "signed_checksum", "meaning"),
                    *("signer", "signer__username"),
                ),
            ),
            Prefetch(
                "check_results",
                queryset=CheckResult.objects.order_by("id").only(
                    *("request", "run", "check_name", "passed", "critical", "detail"),
                    *("observed", "run_at"),
                ),
            ),
        )
    )


#: How many requests the queue page lists and the badge counts ("99+" beyond).
QUEUE_LIMIT = 100


def _needs_role(user: Any, role: str) -> Q:
    """A request needs ``user`` for ``role``: they hold it on the request's team, the role
    is still missing (``assessment.role_missing_q``), and they signed no other role on it
    (one person signs for one role per request)."""
    # Any earlier sign-off as another role bars this one, even one that no longer counts.
    any_other_role = SignOff.objects.filter(request=OuterRef("pk"), signer=user).exclude(role=role)
    return (
        team_q(user, Verb.SIGN, REQUEST_TEAM, role=role)
        & role_missing_q(role)
        & ~Q(Exists(any_other_role))
    )


def review_queue_for(user: Any, *, now: datetime | None = None) -> QuerySet[PromotionRequest]:
    """ "Awaiting your sign-off": requests in review where a board role the user holds on
    the request's team is still missing, that they did not request and have not signed
    (a sign-off that still counts); expedited first, then the earliest due, then the
    oldest. Each row carries ``is_overdue`` and ``awaits_<role>`` per role the user holds.

    Two queries, whatever the number of requests or teams: the roles the user holds on
    any team, then the queue with one condition per such role.
    """
    return _queue(user, roles_held(user), now=now)


def _queue(
    user: Any, roles: list[str], *, now: datetime | None = None
) -> QuerySet[PromotionRequest]:
    if not roles:
        return PromotionRequest.objects.none()
    needs = {role: _needs_role(user, role) for role in roles}
    return (
        PromotionRequest.objects.filter(state=RequestState.IN_REVIEW)
        .exclude(requested_by=user)
        .filter(~Q(Exists(counting_signoffs(signer=user))))
        .filter(reduce(operator.or_, needs.values()))
        .select_related("version__registered_model__team", "requested_by")
        .annotate(
            is_overdue=overdue_flag(now or timezone.now()),
            **{
                f"awaits_{role}": ExpressionWrapper(condition, output_field=BooleanField())
                for role, condition in needs.items()
            },
        )
        .order_by("-priority", F("due_at").asc(nulls_last=True), "created_at", "id")
    )


def awaiting_count(user: Any) -> int:
    """How many requests await the user, counted up to ``QUEUE_LIMIT`` (the badge shows
    "99+" past it): a COUNT over a LIMIT subquery, never over the whole table. The
    subquery keeps the queue's order: PostgreSQL then walks ``promotion_request_queue_order``
    and stops at the limit, where unordered it hashed every request in review first
    (1.7 ms against 18 ms in EXPLAIN ANALYZE at 4,000 in review, issue 14)."""
    return review_queue_for(user)[:QUEUE_LIMIT].count()


def roles_to_sign(user: Any, request: PromotionRequest) -> list[str]:
    """The board roles the user can still sign on one request (the sign form's choices):
    the queue's rule for that one row, empty when it does not await them."""
    roles = roles_held(user, request.version.registered_model.team)
    found = _queue(user, roles).filter(pk=request.pk).values(*(f"awaits_{r}" for r in roles))
    row = found.first()
    return [role for role in roles if row and row[f"awaits_{role}"]]


def overdue_q(now: datetime) -> Q:
    """Open requests past their due date: the SLA breach (dashboards, escalation)."""
    return Q(state__in=OPEN_REQUEST_STATES, due_at__lt=now)


def overdue_requests(user: Any, *, now: datetime | None = None) -> QuerySet[PromotionRequest]:
    """Open requests past their due date, visible to the user (dashboards, escalation)."""
    now = now or timezone.now()
    return requests_visible_to(user, now=now).filter(overdue_q(now))


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
    #: The signed record itself (key id, digest, time) for the review page.
    decision: DecisionRecord | None = None


def request_detail(user: Any, request_id: int, *, now: datetime | None = None) -> RequestDetail:
    """The request (404-style ``DoesNotExist`` if not visible) with its latest checks,
    live exceptions, sign-offs and their validity, per-step due dates and what blocks it.

    Queries: request, checks, exceptions, sign-offs, decision record, evidence digests
    (plus the permission lookup) — independent of how many of each there are.
    """
    now = now or timezone.now()
    request = (
        requests_visible_to(user, now=now)
        .select_related("rollback_target__registered_model")
        .get(pk=request_id)
    )
    results = list(CheckResult.objects.filter(request=request).order_by("id"))
    exceptions = list(CheckException.objects.filter(request=request).select_related("granted_by"))
    signoffs = list(SignOff.objects.filter(request=request).select_related("signer"))
    decision = DecisionRecord.objects.filter(request=request).first()
    digests = current_digests(request.version)
    assessment = assess(
        request, results=results, exceptions=exceptions, signoffs=signoffs, digests=digests, now=now
    )
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
        decision=decision,
    )


# Incidents (issue 13): the admin's search box and the API's ``?q=`` and ``?tag=`` read them
# here, so both find the same incidents the same indexed way.

#: "INC-12", "inc-12" or "12": an incident by its id (the primary key).
INCIDENT_ID = re.compile(r"^(?:inc-)?(\d{1,12})$", re.IGNORECASE)


def _tagged_ids(tag: str) -> QuerySet:
    # Ids through the tag's unique name, as a subquery rather than a join: no incident
    # appears twice, so neither a list nor its keyset page needs DISTINCT.
    tagged = Incident.tags.through.objects.filter(incidenttag__name=tag.strip().lower())
    return tagged.order_by().values("incident_id")


def incidents_tagged(queryset: QuerySet[Incident], tag: str) -> QuerySet[Incident]:
    """The incidents carrying ``tag`` (exact; tags are stored lower-case)."""
    return queryset.filter(pk__in=_tagged_ids(tag))


def incidents_matching(queryset: QuerySet[Incident], term: str) -> QuerySet[Incident]:
    """Indexed lookups only: an incident id, a tag's exact name, or the start of a title
    (exact or prefix: ``LIKE 'term%'`` on the title's pattern index; never a substring
    scan of every title)."""
    term = term.strip()
    if not term:
        return queryset
    by_id = INCIDENT_ID.match(term)
    if by_id:
        return queryset.filter(pk=int(by_id.group(1)))
    # A UNION of two index lookups (the tag's incidents, the title prefix's), not an OR:
    # PostgreSQL answers "IN (subquery) OR title LIKE" by filtering every row.
    titled = Incident.objects.filter(title__startswith=term).order_by().values("id")
    return queryset.filter(pk__in=_tagged_ids(term).union(titled))


#: Where ``incident_tags`` puts an incident's tags: a list, in name order.
INCIDENT_TAGS = "tags_by_name"


def incident_tags() -> Prefetch:
    """Each incident's tags in name order, as a list in ``INCIDENT_TAGS`` (one query for a
    page). Into ``tags`` itself Django builds a filtered queryset per incident to hold the
    cache: about 0.3 ms a row of a list (issue 14)."""
    return Prefetch("tags", queryset=IncidentTag.objects.order_by("name"), to_attr=INCIDENT_TAGS)


def incidents_visible_to(user: Any) -> QuerySet[Incident]:
    """The incidents of the teams ``user`` may see, with what a list row shows."""
    return (
        Incident.objects.visible_to(user)
        .select_related("team", "release", "opened_by")
        .prefetch_related(incident_tags())
    )


def incident_in_detail(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """``queryset`` with what an incident's page shows, in a fixed number of queries: its
    versions (and their models and teams) and its timeline (and authors), oldest first."""
    return queryset.prefetch_related(
        Prefetch(
            "versions",
            queryset=ModelVersion.objects.select_related("registered_model__team").order_by("id"),
        ),
        Prefetch(
            "timeline",
            queryset=IncidentTimelineEntry.objects.select_related("author").order_by("at", "id"),
        ),
    )


__all__ = [
    "INCIDENT_ID",
    "INCIDENT_TAGS",
    "QUEUE_LIMIT",
    "RequestDetail",
    "approval_outcome",
    "awaiting_count",
    "incident_in_detail",
    "incident_tags",
    "incidents_matching",
    "incidents_tagged",
    "incidents_visible_to",
    "overdue_flag",
    "overdue_requests",
    "request_detail",
    "request_list_rows",
    "request_with_evidence",
    "requests_visible_to",
    "review_queue_for",
    "roles_to_sign",
    "signoff_outcome",
]
