"""The governance manager's dashboard, read side: every tile's question as one filter
(``*_q``) and one bounded aggregate query.

The admin changelist filters (``approvals.admin.dashboard_filters``) apply the same
``*_q`` conditions, so a tile's number and the list it links to answer the question once.
Every function takes ``now`` (tests pass the moment) and returns aggregates over the
open requests or a recent window, never rows of an unbounded table: the page runs the
same number of queries at 20 requests and at 2,000.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
)
from django.db.models.fields.json import KT
from django.db.models.functions import TruncWeek
from django.utils import timezone

from approvals.choices import OPEN_REQUEST_STATES, RequestState
from approvals.models import CheckException, CheckResult, PromotionRequest
from approvals.selectors import overdue_q
from core.permissions import Verb, teams_for
from registry.choices import VersionState

#: How far back "recent" reaches for reasons, failures and exceptions.
RECENT_DAYS = 90
#: Approvals lapsing within this many days are "expiring".
EXPIRING_WITHIN_DAYS = 30
#: Weeks of lead time on the chart (this week included).
LEAD_TIME_WEEKS = 12
#: How many reasons a "top" tile lists.
TOP_REASONS = 5
#: Age buckets of pending requests: (key, label, from days, until days or None).
AGE_BUCKETS = (
    ("under-1d", "under 1 day", 0, 1),
    ("1-3d", "1 to 3 days", 1, 3),
    ("3-7d", "3 to 7 days", 3, 7),
    ("1-2w", "1 to 2 weeks", 7, 14),
    ("over-2w", "over 2 weeks", 14, None),
)
DECIDED_STATES = (RequestState.APPROVED, RequestState.REJECTED)
TEAM_SLUG = "version__registered_model__team__slug"


def may_see_dashboard(user: Any) -> bool:
    """Governance managers and auditors of at least one team (one query)."""
    return teams_for(user, Verb.VIEW_DASHBOARD).exists()


def dashboard_requests(user: Any) -> QuerySet[PromotionRequest]:
    """The requests of the teams whose dashboard the user may see."""
    return PromotionRequest.objects.visible_to(user, Verb.VIEW_DASHBOARD)


def recent_since(now: datetime) -> datetime:
    return now - timedelta(days=RECENT_DAYS)


# --- the questions, once each --------------------------------------------------------


def pending_q() -> Q:
    """Waiting for checks or for the board."""
    return Q(state__in=OPEN_REQUEST_STATES)


def age_bucket_q(key: str, now: datetime) -> Q:
    """Pending requests whose age falls in the bucket ``key`` of ``AGE_BUCKETS``."""
    for bucket_key, _label, start, end in AGE_BUCKETS:
        if bucket_key == key:
            condition = pending_q() & Q(created_at__lte=now - timedelta(days=start))
            if end is not None:
                condition &= Q(created_at__gt=now - timedelta(days=end))
            return condition
    raise KeyError(key)


def expiring_approval_q(now: datetime, *, within_days: int = EXPIRING_WITHIN_DAYS) -> Q:
    """Approved requests whose version's approval lapses in the next ``within_days``."""
    return Q(
        state=RequestState.APPROVED,
        version__state=VersionState.APPROVED,
        version__approval_expires_at__gt=now,
        version__approval_expires_at__lte=now + timedelta(days=within_days),
    )


def rejected_recently_q(now: datetime, reason: str | None = None) -> Q:
    """Rejected in the recent window; with ``reason``, for that (first) reason."""
    condition = Q(state=RequestState.REJECTED, decided_at__gte=recent_since(now))
    if reason is not None:
        condition &= Q(reasons__0=reason)
    return condition


def with_first_reason(queryset: QuerySet[PromotionRequest]) -> QuerySet[PromotionRequest]:
    """Annotate the first recorded reason (a rejection's "rejected: ..." line)."""
    return queryset.annotate(first_reason=KT("reasons__0"))


def failed_check_results(now: datetime, check_name: str | None = None) -> QuerySet[CheckResult]:
    """Failed check results of requests created in the recent window (any check, or one)."""
    results = CheckResult.objects.filter(passed=False, request__created_at__gte=recent_since(now))
    return results.filter(check_name=check_name) if check_name else results


def failed_check_q(now: datetime, check_name: str | None = None) -> Q:
    """Recent requests the checks caught failing (``check_name``, or any check)."""
    return Q(id__in=failed_check_results(now, check_name).values("request_id"))


def exception_granted_q(now: datetime) -> Q:
    """Requests a manager granted an exception in the recent window."""
    granted = CheckException.objects.filter(granted_at__gte=recent_since(now))
    return Q(id__in=granted.values("request_id"))


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 (in the current time zone) of the week holding ``moment``."""
    local = timezone.localtime(moment)
    monday = local - timedelta(days=local.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


def decided_in_week_q(start: datetime) -> Q:
    """Approved or rejected in the week starting ``start``."""
    return Q(
        state__in=DECIDED_STATES, decided_at__gte=start, decided_at__lt=start + timedelta(days=7)
    )


# --- the tiles -----------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    value: float
    count: int = 0


@dataclass
class Dashboard:
    pending_by_age: list[Bar]
    pending_by_team: list[Bar]
    sla_breaches: int
    expiring_approvals: int
    top_rejection_reasons: list[Bar]
    top_failed_checks: list[Bar]
    lead_time_by_week: list[Bar]  # value: mean hours to decision; count: decisions
    requests_caught_failing: int
    requests_with_exceptions: int

    @property
    def pending(self) -> int:
        return sum(bar.count for bar in self.pending_by_age)


def pending_by_age(requests: QuerySet, now: datetime) -> list[Bar]:
    counts = requests.aggregate(
        **{key: Count("id", filter=age_bucket_q(key, now)) for key, *_ in AGE_BUCKETS}
    )
    return [Bar(key, label, counts[key], counts[key]) for key, label, *_ in AGE_BUCKETS]


def pending_by_team(requests: QuerySet) -> list[Bar]:
    rows = (
        requests.filter(pending_q())
        .values(TEAM_SLUG)
        .annotate(n=Count("id"))
        .order_by("-n", TEAM_SLUG)
    )
    return [Bar(row[TEAM_SLUG], row[TEAM_SLUG], row["n"], row["n"]) for row in rows]


def top_rejection_reasons(requests: QuerySet, now: datetime) -> list[Bar]:
    rows = (
        with_first_reason(requests)
        .filter(rejected_recently_q(now))
        .values("first_reason")
        .annotate(n=Count("id"))
        .order_by("-n", "first_reason")[:TOP_REASONS]
    )
    return [
        Bar(row["first_reason"] or "", row["first_reason"] or "(none)", row["n"], row["n"])
        for row in rows
    ]


def top_failed_checks(requests: QuerySet, now: datetime) -> list[Bar]:
    rows = (
        failed_check_results(now)
        .filter(request__in=requests.values("id"))
        .values("check_name")
        .annotate(n=Count("request_id", distinct=True))
        .order_by("-n", "check_name")[:TOP_REASONS]
    )
    return [Bar(row["check_name"], row["check_name"], row["n"], row["n"]) for row in rows]


def lead_time_by_week(requests: QuerySet, now: datetime) -> list[Bar]:
    """Mean hours from request to decision, per week of decision (oldest first; weeks
    without decisions show 0 decisions)."""
    first = week_start(now) - timedelta(weeks=LEAD_TIME_WEEKS - 1)
    lead = ExpressionWrapper(F("decided_at") - F("created_at"), output_field=DurationField())
    rows = (
        requests.filter(state__in=DECIDED_STATES, decided_at__gte=first)
        .annotate(week=TruncWeek("decided_at"), lead=lead)
        .values("week")
        .annotate(mean=Avg("lead"), n=Count("id"))
        .order_by("week")
    )
    by_week = {timezone.localtime(row["week"]).date(): row for row in rows}
    bars = []
    for offset in range(LEAD_TIME_WEEKS):
        start = first + timedelta(weeks=offset)
        row = by_week.get(start.date())
        hours = row["mean"].total_seconds() / 3600 if row and row["mean"] is not None else 0.0
        bars.append(
            Bar(start.date().isoformat(), start.strftime("%d %b"), hours, row["n"] if row else 0)
        )
    return bars


def dashboard_for(user: Any, *, now: datetime | None = None) -> Dashboard:
    """Every tile for the teams whose dashboard ``user`` may see, in a fixed number of
    aggregate queries (one per chart, one for the counted tiles)."""
    now = now or timezone.now()
    requests = dashboard_requests(user)
    outcome = requests.aggregate(
        caught=Count("id", filter=failed_check_q(now), distinct=True),
        excepted=Count("id", filter=exception_granted_q(now), distinct=True),
        expiring=Count("id", filter=expiring_approval_q(now)),
        # The SLA breach is the selectors' definition (escalation reads the same one).
        sla_breaches=Count("id", filter=overdue_q(now)),
    )
    return Dashboard(
        pending_by_age=pending_by_age(requests, now),
        pending_by_team=pending_by_team(requests),
        sla_breaches=outcome["sla_breaches"],
        expiring_approvals=outcome["expiring"],
        top_rejection_reasons=top_rejection_reasons(requests, now),
        top_failed_checks=top_failed_checks(requests, now),
        lead_time_by_week=lead_time_by_week(requests, now),
        requests_caught_failing=outcome["caught"],
        requests_with_exceptions=outcome["excepted"],
    )


__all__ = [
    "AGE_BUCKETS",
    "Bar",
    "Dashboard",
    "age_bucket_q",
    "dashboard_for",
    "dashboard_requests",
    "decided_in_week_q",
    "exception_granted_q",
    "expiring_approval_q",
    "failed_check_q",
    "may_see_dashboard",
    "pending_q",
    "rejected_recently_q",
    "week_start",
    "with_first_reason",
]
