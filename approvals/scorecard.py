"""The governance scorecard, read side: "governance itself deserves metrics" (issue 13).

``governance_scorecard(user=, window_start=, window_end=, now=, team=)`` answers four
questions for each team the user may see (``Verb.VIEW_SCORECARD``) and for all of them
together, over the half-open window ``[window_start, window_end)``:

- **Lead time from registration to general release.** Each release whose *first* entry
  into ``Ring.GENERAL`` (any environment) falls in the window counts once; its lead time is
  that entry minus the earliest ``created_at`` of the versions it pins as ``model``
  components. A release pinning no model component has no lead time and is not counted.
  Median and p90 are continuous percentiles (linear interpolation between closest ranks,
  PostgreSQL's ``percentile_cont``), computed here over the window's releases, in days.
- **Policy failures caught before approval.** *Decided* requests are the promotion
  requests (versions and ring requests alike) that reached ``approved``, ``rejected`` or
  ``changes_requested`` in the window (``state_changed_at``; counted by the state they are
  in now). *Caught* are those decided requests not approved that have at least one failed
  check result (any run): the policy stopped them. *Escaped* are the incidents opened in
  the window on something that had been approved before the incident opened: a release
  that had entered a ring, or a linked version with ``approved_at``. The share is
  ``caught / (caught + escaped)``; both numbers are reported, and the share is ``None``
  when both are 0.
- **Exceptions granted.** ``CheckException`` rows with ``granted_at`` in the window, by
  check name. Refused override attempts on critical checks are not recorded anywhere (the
  service refuses before writing), so they are not counted.
- **Incident-free days.** The window (its end capped at ``now``) is cut into whole 24-hour
  days from ``window_start``; a trailing partial day is not counted. A day is
  incident-free for a team when no incident of the team was open during any part of it: an
  incident is open from ``opened_at`` to ``resolved_at`` (or ``now`` while unresolved), and
  always covers the day it opened. "Days since the last incident" is 0 while one is open,
  otherwise whole days from the latest ``resolved_at`` to ``now``, and ``None`` for a team
  that never had one. Overall: days on which no visible team had an incident open.

Every figure comes from one query over the window through an index (ring entries by ring
and entry time, requests by their own team, state and state change, exceptions by grant
time, incidents by team and opening or resolution), never a scan of a whole table, and no
request figure joins versions to find the team (issue 14): five queries whatever the data
size. Nothing reads the clock: the caller passes ``now``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, Q, Subquery, Value

from approvals.choices import RequestState
from approvals.models import CheckException, CheckResult, Incident, PromotionRequest, RingEntry
from core.errors import DomainError, InvalidInput
from core.permissions import Verb, teams_for
from registry.choices import ReleaseComponentKind, Ring

DAY = timedelta(days=1)
DECIDED_STATES = (RequestState.APPROVED, RequestState.REJECTED, RequestState.CHANGES_REQUESTED)
CAUGHT_STATES = (RequestState.REJECTED, RequestState.CHANGES_REQUESTED)


class TeamNotFound(DomainError):
    """The ``team`` asked for does not exist or is not one the user may see (one answer)."""

    status_code = 404
    code = "not-found"
    title = "Not found"


@dataclass(frozen=True)
class LeadTime:
    count: int
    median_days: float | None
    p90_days: float | None


@dataclass(frozen=True)
class PolicyFailures:
    decided: int
    caught: int
    escaped: int

    @property
    def denominator(self) -> int:
        return self.caught + self.escaped

    @property
    def share_caught(self) -> float | None:
        return self.caught / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Exceptions:
    granted: int
    by_check: dict[str, int]


@dataclass(frozen=True)
class IncidentDays:
    window_days: int
    incident_free_days: int
    #: None overall or for a team that never had an incident.
    days_since_last_incident: int | None
    open_now: bool


@dataclass(frozen=True)
class Score:
    lead_time: LeadTime
    policy_failures: PolicyFailures
    exceptions: Exceptions
    incident_days: IncidentDays


@dataclass(frozen=True)
class TeamScore(Score):
    team_slug: str = ""
    team_name: str = ""


@dataclass(frozen=True)
class Scorecard:
    window_start: datetime
    window_end: datetime
    now: datetime
    overall: Score
    teams: list[TeamScore] = field(default_factory=list)


def percentile(values: list[float], fraction: float) -> float | None:
    """The continuous percentile of ``values`` (``percentile_cont``): linear interpolation
    between the closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def lead_time(days: list[float]) -> LeadTime:
    return LeadTime(len(days), percentile(days, 0.5), percentile(days, 0.9))


def validate_window(window_start: Any, window_end: Any) -> None:
    """Refuse a window that is not two aware datetimes with the start before the end."""
    for name, value in (("window_start", window_start), ("window_end", window_end)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise InvalidInput(
                f"{name} must be a date or a date and time.",
                errors={name: ["expected an ISO 8601 date or date and time"]},
            )
    if window_start >= window_end:
        raise InvalidInput(
            "window_start must be before window_end.",
            errors={"window_start": ["must be before window_end"]},
        )


# --- one query per figure ---------------------------------------------------------------


def _lead_days_by_team(team_ids: list[int], start: datetime, end: datetime) -> dict[int, list]:
    """Days from the earliest model registration to the first general entry, per team."""
    earlier_general = RingEntry.objects.filter(
        release_id=OuterRef("release_id"), ring=Ring.GENERAL, entered_at__lt=start
    )
    rows = (
        RingEntry.objects.filter(
            ring=Ring.GENERAL,
            entered_at__gte=start,
            entered_at__lt=end,
            release__team_id__in=team_ids,
        )
        .exclude(Exists(earlier_general))
        .values("release_id", "release__team_id")
        .annotate(
            entered=Min("entered_at"),
            registered=Min(
                "release__components__model_version__created_at",
                filter=Q(release__components__kind=ReleaseComponentKind.MODEL),
            ),
        )
        .order_by()
    )
    days: dict[int, list[float]] = defaultdict(list)
    for row in rows:
        if row["registered"] is not None:
            elapsed = row["entered"] - row["registered"]
            days[row["release__team_id"]].append(elapsed.total_seconds() / DAY.total_seconds())
    return days


def _decisions_by_team(team_ids: list[int], start: datetime, end: datetime) -> dict[int, dict]:
    # UNION ALL of an index-only count of the decided and a count of the caught: one count
    # read every decided row's id for the check's lookup, a table scan (issue 14).
    window = Q(state_changed_at__gte=start, state_changed_at__lt=end, team_id__in=team_ids)
    failed = Exists(CheckResult.objects.filter(request_id=OuterRef("pk"), passed=False))
    counts = [
        PromotionRequest.objects.filter(window, condition)
        .values("team_id")
        .annotate(decided=decided, caught=caught)
        .order_by()
        for condition, decided, caught in (
            (Q(state__in=DECIDED_STATES), Count("*"), Value(0)),
            (Q(failed, state__in=CAUGHT_STATES), Value(0), Count("*")),
        )
    ]
    by_team: dict[int, dict] = defaultdict(Counter)
    for row in counts[0].union(counts[1], all=True):
        by_team[row.pop("team_id")].update(row)
    return by_team


def _escaped_by_team(team_ids: list[int], start: datetime, end: datetime) -> dict[int, int]:
    release_was_in_a_ring = RingEntry.objects.filter(
        release_id=OuterRef("release_id"), entered_at__lte=OuterRef("opened_at")
    )
    version_was_approved = Incident.versions.through.objects.filter(
        incident_id=OuterRef("pk"), modelversion__approved_at__lte=OuterRef("opened_at")
    )
    rows = (
        Incident.objects.filter(team_id__in=team_ids, opened_at__gte=start, opened_at__lt=end)
        .filter(Exists(release_was_in_a_ring) | Exists(version_was_approved))
        .values("team_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["team_id"]: row["n"] for row in rows}


def _exceptions_by_team(team_ids: list[int], start: datetime, end: datetime) -> dict[int, dict]:
    team = "request__team_id"
    rows = (
        CheckException.objects.filter(
            granted_at__gte=start, granted_at__lt=end, **{f"{team}__in": team_ids}
        )
        .values(team, "check_name")
        .annotate(n=Count("id"))
        .order_by(team, "check_name")
    )
    by_team: dict[int, dict[str, int]] = defaultdict(dict)
    for row in rows:
        by_team[row[team]][row["check_name"]] = row["n"]
    return by_team


def _incident_spans(team_ids: list[int], start: datetime, end: datetime, now: datetime) -> list:
    """(team id, opened, open until) of every incident open at some moment of the window:
    opened in it, or opened before and not resolved by its start."""
    # Three branches, each an index range (team and opening; team and no resolution; team
    # and resolution after the start), so the database ORs index scans.
    overlapping = (
        Q(opened_at__gte=start, opened_at__lt=end)
        | Q(resolved_at__isnull=True, opened_at__lt=start)
        | Q(resolved_at__gt=start, opened_at__lt=start)
    )
    rows = Incident.objects.filter(overlapping, team_id__in=team_ids).values_list(
        "team_id", "opened_at", "resolved_at"
    )
    return [(team_id, opened, resolved or now) for team_id, opened, resolved in rows]


def _visible_teams(user: Any, team: str | None, now: datetime) -> list:
    """The teams shown, each with its last resolution and whether one is open at ``now``."""
    teams = teams_for(user, Verb.VIEW_SCORECARD)
    if team is not None:
        teams = teams.filter(slug=team)
    resolved = Incident.objects.filter(
        team_id=OuterRef("pk"), resolved_at__isnull=False, resolved_at__lte=now
    ).order_by("-resolved_at")
    open_now = Incident.objects.filter(team_id=OuterRef("pk"), opened_at__lte=now).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gt=now)
    )
    found = list(
        teams.annotate(
            last_resolved_at=Subquery(resolved.values("resolved_at")[:1]),
            incident_open_now=Exists(open_now),
        ).order_by("slug")
    )
    if team is not None and not found:
        raise TeamNotFound(f"No team {team!r} that you may see.", errors={"team": ["not found"]})
    return found


# --- putting it together -----------------------------------------------------------------


def covered_days(spans: list[tuple[datetime, datetime]], start: datetime, days: int) -> int:
    """How many of the ``days`` whole days from ``start`` some span touches (a span
    always touches the day it begins)."""
    ranges = []
    for opened, until in spans:
        first = max(0, math.floor((opened - start) / DAY))
        last = min(days - 1, max(math.ceil((until - start) / DAY) - 1, first))
        if first <= last:
            ranges.append((first, last))
    covered, reach = 0, -1
    for first, last in sorted(ranges):
        if last > reach:
            covered += last - max(first, reach + 1) + 1
            reach = last
    return covered


def _days_since(team: Any, now: datetime) -> int | None:
    if team.incident_open_now:
        return 0
    if team.last_resolved_at is None:
        return None
    return math.floor((now - team.last_resolved_at) / DAY)


def governance_scorecard(
    *,
    user: Any,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    team: str | None = None,
) -> Scorecard:
    """The scorecard of the teams ``user`` may see (only ``team``, a slug, when given) over
    ``[window_start, window_end)``; the module docstring defines each figure. Raises
    ``InvalidInput`` for a bad window and ``TeamNotFound`` for a team not visible."""
    validate_window(window_start, window_end)
    teams = _visible_teams(user, team, now)
    ids = [t.pk for t in teams]
    start, end = window_start, window_end
    lead_days = _lead_days_by_team(ids, start, end)
    decisions = _decisions_by_team(ids, start, end)
    escaped = _escaped_by_team(ids, start, end)
    exceptions = _exceptions_by_team(ids, start, end)
    spans = _incident_spans(ids, start, end, now)
    days = max(0, math.floor((min(end, now) - start) / DAY))

    def score(team_ids: list[int], **extra: Any) -> dict[str, Any]:
        by_check: dict[str, int] = defaultdict(int)
        for team_id in team_ids:
            for check_name, n in exceptions.get(team_id, {}).items():
                by_check[check_name] += n
        team_spans = [(o, u) for team_id, o, u in spans if team_id in team_ids]
        return {
            "lead_time": lead_time([d for team_id in team_ids for d in lead_days.get(team_id, [])]),
            "policy_failures": PolicyFailures(
                decided=sum(decisions.get(i, {}).get("decided", 0) for i in team_ids),
                caught=sum(decisions.get(i, {}).get("caught", 0) for i in team_ids),
                escaped=sum(escaped.get(i, 0) for i in team_ids),
            ),
            "exceptions": Exceptions(sum(by_check.values()), dict(sorted(by_check.items()))),
            "incident_days": IncidentDays(
                window_days=days,
                incident_free_days=days - covered_days(team_spans, start, days),
                **extra,
            ),
        }

    team_scores = [
        TeamScore(
            **score(
                [t.pk],
                days_since_last_incident=_days_since(t, now),
                open_now=t.incident_open_now,
            ),
            team_slug=t.slug,
            team_name=t.name,
        )
        for t in teams
    ]
    overall = Score(
        **score(
            ids,
            days_since_last_incident=min(
                (
                    s.incident_days.days_since_last_incident
                    for s in team_scores
                    if s.incident_days.days_since_last_incident is not None
                ),
                default=None,
            ),
            open_now=any(t.incident_open_now for t in teams),
        )
    )
    return Scorecard(
        window_start=start, window_end=end, now=now, overall=overall, teams=team_scores
    )


__all__ = [
    "Exceptions",
    "IncidentDays",
    "LeadTime",
    "PolicyFailures",
    "Score",
    "Scorecard",
    "TeamNotFound",
    "TeamScore",
    "covered_days",
    "governance_scorecard",
    "percentile",
    "validate_window",
]
