"""The governance manager's dashboard, read side: every tile's question as one filter
(``*_q``) and one bounded aggregate query.

The admin changelist filters (``approvals.admin.dashboard_filters``) apply the same
``*_q`` conditions, so a tile's number and the list it links to answer the question once.
Every function takes ``now`` (tests pass the moment) and returns aggregates over the
open requests or a recent window, never rows of an unbounded table: the page runs the
same number of queries at 20 requests and at 2,000.

Requests carry their own team (``PromotionRequest.team``, copied from the version's model
at opening), so no tile joins versions or models to find it (issue 14: the join hashed
every version). The tiles that read the open requests and the lead-time chart's
decisions share one pass, grouped by team and week, through the (team, state,
created_at) and (team, decided_at) indexes; the others start from their own window
(failed results, exceptions, rejections, approvals lapsing soon, by their indexes) and
filter on the ids of the teams shown, read first from the small team table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.fields.json import KT
from django.db.models.functions import TruncWeek
from django.utils import timezone

from approvals.choices import OPEN_REQUEST_STATES, RequestState
from approvals.models import CheckException, CheckResult, PromotionRequest
from approvals.models.request_team import REQUEST_TEAM
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


def may_see_dashboard(user: Any) -> bool:
    """Governance managers and auditors of at least one team (one query)."""
    return teams_for(user, Verb.VIEW_DASHBOARD).exists()


def recent_since(now: datetime) -> datetime:
    return now - timedelta(days=RECENT_DAYS)


def created_since_q(since: datetime, path: str = "") -> Q:
    """Requests created at or after ``since``. The (state, created_at) index answers a
    range of ``created_at`` only under its leading column: naming every state lets it."""
    return Q(**{f"{path}state__in": RequestState.values, f"{path}created_at__gte": since})


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
    results = CheckResult.objects.filter(
        created_since_q(recent_since(now), "request__"), passed=False
    )
    return results.filter(check_name=check_name) if check_name else results


def failed_check_q(now: datetime, check_name: str | None = None) -> Q:
    """Recent requests the checks caught failing (``check_name``, or any check)."""
    return Q(id__in=failed_check_results(now, check_name).values("request_id"))


def exception_granted_q(now: datetime) -> Q:
    """Requests a manager granted an exception in the recent window."""
    return Q(id__in=recent_exceptions(now).values("request_id"))


def recent_exceptions(now: datetime) -> QuerySet[CheckException]:
    """Exceptions granted in the recent window (by the grant-time index)."""
    return CheckException.objects.filter(granted_at__gte=recent_since(now))


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


def _largest_first(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def lead_time_start(now: datetime) -> datetime:
    """Monday of the oldest week on the lead-time chart."""
    return week_start(now) - timedelta(weeks=LEAD_TIME_WEEKS - 1)


def request_tiles(teams: dict[int, str], now: datetime) -> dict[str, Any]:
    """Pending by age and by team, SLA breaches and lead time by week: one pass over the
    open requests and the chart's decisions of the teams shown, grouped by team and week
    of decision (at most teams x 13 rows; every count adds up across the groups)."""
    first = lead_time_start(now)
    decided = Q(state__in=DECIDED_STATES, decided_at__gte=first)
    lead = ExpressionWrapper(F("decided_at") - F("created_at"), output_field=DurationField())
    buckets = {key: Count("id", filter=age_bucket_q(key, now)) for key, *_ in AGE_BUCKETS}
    rows = (
        PromotionRequest.objects.filter(pending_q() | decided, **{f"{REQUEST_TEAM}__in": teams})
        .annotate(week=TruncWeek("decided_at"), lead=lead)
        .values(REQUEST_TEAM, "week")
        .annotate(
            pending=Count("id", filter=pending_q()),
            # The SLA breach is the selectors' definition (escalation reads the same one).
            overdue=Count("id", filter=overdue_q(now)),
            decisions=Count("id", filter=decided),
            lead_total=Sum("lead", filter=decided),
            **buckets,
        )
        .order_by()
    )
    by_age, by_team = defaultdict(int), defaultdict(int)
    by_week: dict[Any, list] = defaultdict(lambda: [timedelta(0), 0])
    overdue = 0
    for row in rows:
        for key in buckets:
            by_age[key] += row[key]
        by_team[teams[row[REQUEST_TEAM]]] += row["pending"]
        overdue += row["overdue"]
        if row["decisions"]:
            week = by_week[timezone.localtime(row["week"]).date()]
            week[0] += row["lead_total"]
            week[1] += row["decisions"]
    lead_bars = []
    for offset in range(LEAD_TIME_WEEKS):
        start = first + timedelta(weeks=offset)
        total, n = by_week.get(start.date(), (timedelta(0), 0))
        hours = total.total_seconds() / 3600 / n if n else 0.0
        lead_bars.append(Bar(start.date().isoformat(), start.strftime("%d %b"), hours, n))
    pending_teams = sorted(((slug, n) for slug, n in by_team.items() if n), key=_largest_first)
    return {
        "pending_by_age": [
            Bar(key, label, by_age[key], by_age[key]) for key, label, *_ in AGE_BUCKETS
        ],
        "pending_by_team": [Bar(slug, slug, n, n) for slug, n in pending_teams],
        "sla_breaches": overdue,
        "lead_time_by_week": lead_bars,
    }


def expiring_approvals(team_ids: list[int], now: datetime) -> int:
    """Approved requests whose version's approval lapses soon (the versions' state and
    approval-expiry index bounds them)."""
    return PromotionRequest.objects.filter(
        expiring_approval_q(now), **{f"{REQUEST_TEAM}__in": team_ids}
    ).count()


def top_rejection_reasons(team_ids: list[int], now: datetime) -> list[Bar]:
    rows = (
        with_first_reason(PromotionRequest.objects.filter(rejected_recently_q(now)))
        .filter(**{f"{REQUEST_TEAM}__in": team_ids})
        .values("first_reason")
        .annotate(n=Count("id"))
        .order_by("-n", "first_reason")[:TOP_REASONS]
    )
    return [
        Bar(row["first_reason"] or "", row["first_reason"] or "(none)", row["n"], row["n"])
        for row in rows
    ]


def failed_check_tiles(team_ids: list[int], now: datetime) -> dict[str, Any]:
    """Top failed checks and requests caught failing, from the recent failed results."""
    results = failed_check_results(now).filter(**{f"request__{REQUEST_TEAM}__in": team_ids})
    rows = (
        results.values("check_name")
        .annotate(n=Count("request_id", distinct=True))
        .order_by("-n", "check_name")[:TOP_REASONS]
    )
    return {
        "top_failed_checks": [
            Bar(row["check_name"], row["check_name"], row["n"], row["n"]) for row in rows
        ],
        "requests_caught_failing": results.aggregate(n=Count("request_id", distinct=True))["n"],
    }


def requests_with_exceptions(team_ids: list[int], now: datetime) -> int:
    return (
        recent_exceptions(now)
        .filter(**{f"request__{REQUEST_TEAM}__in": team_ids})
        .aggregate(n=Count("request_id", distinct=True))["n"]
    )


def dashboard_teams(user: Any) -> dict[int, str]:
    """The teams whose dashboard the user may see: id to slug (one query, a small table)."""
    return dict(teams_for(user, Verb.VIEW_DASHBOARD).values_list("pk", "slug"))


def dashboard_for(user: Any, *, now: datetime | None = None) -> Dashboard:
    """Every tile for the teams whose dashboard ``user`` may see, in a fixed number of
    aggregate queries over bounded rows (the open requests, the recent window, approvals
    lapsing soon), each filtered on the requests' own team."""
    now = now or timezone.now()
    teams = dashboard_teams(user)
    ids = list(teams)
    return Dashboard(
        **request_tiles(teams, now),
        **failed_check_tiles(ids, now),
        expiring_approvals=expiring_approvals(ids, now),
        top_rejection_reasons=top_rejection_reasons(ids, now),
        requests_with_exceptions=requests_with_exceptions(ids, now),
    )


__all__ = [
    "AGE_BUCKETS",
    "Bar",
    "Dashboard",
    "age_bucket_q",
    "dashboard_for",
    "dashboard_teams",
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
