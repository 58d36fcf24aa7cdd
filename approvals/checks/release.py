"""The checks of a ring request: may this release enter ``ring`` in ``environment`` now?

A ring request (``PromotionRequest.release`` set) runs these instead of the version
evidence checks: its components were judged on their own requests. What they read is
gathered once in ``ReleaseFacts`` (a fixed number of queries, whatever the release's
history) and narrowed to one ring by ``RingFacts``; the ring state page and API run the
same functions on the same facts, so "what blocks the next ring" has one answer.

Critical (no exception): components approved, manifest intact, previous ring entered, no
open blocking incident. Days in the previous ring and monitoring within thresholds are
overridable by a governance manager unless the policy marks them critical
(docs/adr/0020-rings.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import OuterRef, Subquery

from approvals.checks.context import CheckContext, CheckOutcome, make_outcome
from approvals.choices import (
    ALWAYS_CRITICAL_RING_CHECKS,
    OPEN_INCIDENT_STATES,
    RingCheckName,
)
from approvals.models import Incident, MonitoringReport, RingEntry
from registry.choices import RING_ORDER, ReleaseState, Ring, VersionState
from registry.models import Release, ReleaseComponent

#: Component states a release may enter a ring with: approved, or candidate (approved by
#: the ring request itself, as ``approvals.services.decisions`` does on approval).
RING_READY_STATES = frozenset({VersionState.APPROVED, VersionState.CANDIDATE})


def previous_ring(ring: str) -> str | None:
    """The ring before ``ring`` in ``RING_ORDER`` (None for the first, offline validation)."""
    index = RING_ORDER.index(ring)
    return RING_ORDER[index - 1] if index else None


def next_ring(entered: set[str] | list[str]) -> str | None:
    """The first ring after the furthest one entered (the first ring when none is)."""
    furthest = max((RING_ORDER.index(r) for r in entered), default=-1)
    return RING_ORDER[furthest + 1] if furthest + 1 < len(RING_ORDER) else None


def ring_label(ring: str) -> str:
    try:
        return str(Ring(ring).label)
    except ValueError:
        return ring


@dataclass
class ReleaseFacts:
    """Everything the ring checks read about one release, in every environment."""

    release: Release
    components: list[ReleaseComponent]
    integrity_problems: list[str]
    entries: dict[tuple[str, str], RingEntry]
    latest_reports: dict[tuple[str, str], MonitoringReport]
    blocking_incidents: list[Incident]

    def for_ring(
        self, *, environment: str, ring: str, criteria: dict[str, Any], now: datetime
    ) -> RingFacts:
        return RingFacts(
            facts=self, environment=environment, ring=ring, criteria=criteria or {}, now=now
        )

    def entered(self, environment: str) -> list[RingEntry]:
        return sorted(
            (e for (env, _), e in self.entries.items() if env == environment),
            key=lambda e: RING_ORDER.index(e.ring),
        )


@dataclass
class RingFacts:
    """``ReleaseFacts`` narrowed to one (environment, ring) and the criteria judging it."""

    facts: ReleaseFacts
    environment: str
    ring: str
    criteria: dict[str, Any] = field(default_factory=dict)
    now: datetime | None = None

    @property
    def release(self) -> Release:
        return self.facts.release

    @property
    def previous(self) -> str | None:
        return previous_ring(self.ring)

    @property
    def previous_entry(self) -> RingEntry | None:
        if self.previous is None:
            return None
        return self.facts.entries.get((self.environment, self.previous))


def release_facts(release: Release) -> ReleaseFacts:
    """Load the facts of ``release`` in five queries (one of them ``release_integrity``)."""
    from registry.release_manifest import release_integrity

    components = list(
        ReleaseComponent.objects.filter(release=release)
        .select_related("model_version__registered_model")
        .order_by("id")
    )
    entries = {
        (e.environment, e.ring): e
        for e in RingEntry.objects.filter(release=release).select_related("entered_by")
    }
    # The newest report per (environment, ring), one query on every backend (the embedded
    # SQLite default has no DISTINCT ON): each row is kept only if no newer one exists, a
    # probe of the (release, environment, ring, -window_end) index.
    newest = (
        MonitoringReport.objects.filter(
            release=release, environment=OuterRef("environment"), ring=OuterRef("ring")
        )
        .order_by("-window_end", "-id")
        .values("pk")[:1]
    )
    latest = {
        (r.environment, r.ring): r
        for r in MonitoringReport.objects.filter(release=release, pk=Subquery(newest))
    }
    incidents = list(
        Incident.objects.filter(
            release=release, state__in=OPEN_INCIDENT_STATES, blocks_promotion=True
        ).order_by("id")
    )
    return ReleaseFacts(
        release=release,
        components=components,
        integrity_problems=release_integrity(release),
        entries=entries,
        latest_reports=latest,
        blocking_incidents=incidents,
    )


def _ring(ctx: CheckContext) -> RingFacts:
    if ctx.ring is None:
        raise ValueError("this is not a ring request")
    return ctx.ring


def check_components_approved(ctx: CheckContext) -> CheckOutcome:
    """Every pinned model component is approved or candidate (none draft, deprecated or
    retired)."""
    name = RingCheckName.COMPONENTS_APPROVED
    facts = _ring(ctx)
    versions = [c.model_version for c in facts.facts.components if c.model_version_id]
    if not versions:
        return make_outcome(name, False, "The release pins no model, config or SDK version.")
    bad = {
        f"{v.registered_model.name} {v.version}": v.state
        for v in versions
        if v.state not in RING_READY_STATES
    }
    if bad:
        detail = ", ".join(f"{label} is {state}" for label, state in bad.items())
        return make_outcome(name, False, f"Not every component may serve: {detail}.", states=bad)
    candidates = [v.pk for v in versions if v.state == VersionState.CANDIDATE]
    detail = f"{len(versions)} component versions approved or candidate"
    if candidates:
        detail += f" ({len(candidates)} candidate, approved with this request)"
    return make_outcome(name, True, detail + ".", candidates=candidates)


def check_manifest_intact(ctx: CheckContext) -> CheckOutcome:
    """No pinned component changed since the release was submitted, and the release is
    still submitted (a withdrawn or rolled-back release enters no ring)."""
    name = RingCheckName.MANIFEST_INTACT
    facts = _ring(ctx)
    problems = list(facts.facts.integrity_problems)
    if facts.release.state != ReleaseState.SUBMITTED:
        problems.insert(0, f"The release is {facts.release.state}; it enters no ring.")
    if problems:
        return make_outcome(name, False, " ".join(problems), problems=problems)
    return make_outcome(
        name,
        True,
        f"Every component is as submitted (manifest {facts.release.manifest_sha256[:12]}).",
        manifest_sha256=facts.release.manifest_sha256,
    )


def check_previous_ring_entered(ctx: CheckContext) -> CheckOutcome:
    """The release entered the previous ring of ``RING_ORDER`` in this environment."""
    name = RingCheckName.PREVIOUS_RING_ENTERED
    facts = _ring(ctx)
    if facts.previous is None:
        return make_outcome(name, True, "Offline validation is the first ring.", previous=None)
    entry = facts.previous_entry
    if entry is None:
        return make_outcome(
            name,
            False,
            f"The release has not entered {ring_label(facts.previous)} in "
            f"{facts.environment}: rings are entered in order.",
            previous=facts.previous,
        )
    return make_outcome(
        name,
        True,
        f"Entered {ring_label(facts.previous)} in {facts.environment} at "
        f"{entry.entered_at:%Y-%m-%d %H:%M} UTC.",
        previous=facts.previous,
        entered_at=entry.entered_at.isoformat(),
    )


def check_min_days_in_previous(ctx: CheckContext) -> CheckOutcome:
    """At least ``min_days_in_previous`` days since entering the previous ring."""
    name = RingCheckName.MIN_DAYS_IN_PREVIOUS
    facts = _ring(ctx)
    required = int(facts.criteria.get("min_days_in_previous") or 0)
    if facts.previous is None:
        return make_outcome(name, True, "Offline validation is the first ring.", required=required)
    entry = facts.previous_entry
    if entry is None:
        return make_outcome(
            name,
            False,
            f"Not in {ring_label(facts.previous)} yet: {required} days required.",
            required=required,
        )
    elapsed = (facts.now - entry.entered_at) / timedelta(days=1)
    observed = round(elapsed, 2)
    if elapsed < required:
        return make_outcome(
            name,
            False,
            f"{observed} days in {ring_label(facts.previous)}; the policy requires "
            f"{required} before {ring_label(facts.ring)}.",
            required=required,
            days=observed,
        )
    return make_outcome(
        name,
        True,
        f"{observed} days in {ring_label(facts.previous)} (at least {required}).",
        required=required,
        days=observed,
    )


def check_monitoring_within_thresholds(ctx: CheckContext) -> CheckOutcome:
    """The newest monitoring report of the previous ring in this environment breached no
    rollback trigger, and there is one."""
    name = RingCheckName.MONITORING_WITHIN_THRESHOLDS
    facts = _ring(ctx)
    if facts.previous is None:
        return make_outcome(name, True, "Offline validation is the first ring: nothing serves.")
    report = facts.facts.latest_reports.get((facts.environment, facts.previous))
    if report is None:
        return make_outcome(
            name,
            False,
            f"No monitoring report from {ring_label(facts.previous)} in {facts.environment} yet.",
            report=None,
        )
    window = f"{report.window_start:%Y-%m-%d %H:%M} to {report.window_end:%Y-%m-%d %H:%M} UTC"
    if report.breaches:
        names = [
            str(b.get("name") or b.get("metric") or "?") if isinstance(b, dict) else str(b)
            for b in report.breaches
        ]
        return make_outcome(
            name,
            False,
            f"The latest monitoring report ({window}) breached: {', '.join(names)}.",
            report=report.pk,
            breaches=report.breaches,
        )
    detail = f"The latest monitoring report ({window}) is within thresholds."
    return make_outcome(name, True, detail, report=report.pk)


def check_no_open_incident(ctx: CheckContext) -> CheckOutcome:
    """No open (or mitigated, not yet resolved) incident on the release blocks promotion."""
    name = RingCheckName.NO_OPEN_INCIDENT
    facts = _ring(ctx)
    incidents = facts.facts.blocking_incidents
    if incidents:
        listed = ", ".join(f"INC-{i.pk} ({i.severity}, {i.state}): {i.title}" for i in incidents)
        return make_outcome(
            name,
            False,
            f"Open incidents block promotion: {listed}.",
            incidents=[i.pk for i in incidents],
        )
    return make_outcome(name, True, "No open incident blocks promotion.", incidents=[])


RING_CHECKS: dict[str, Callable[[CheckContext], CheckOutcome]] = {
    RingCheckName.COMPONENTS_APPROVED: check_components_approved,
    RingCheckName.MANIFEST_INTACT: check_manifest_intact,
    RingCheckName.PREVIOUS_RING_ENTERED: check_previous_ring_entered,
    RingCheckName.MIN_DAYS_IN_PREVIOUS: check_min_days_in_previous,
    RingCheckName.MONITORING_WITHIN_THRESHOLDS: check_monitoring_within_thresholds,
    RingCheckName.NO_OPEN_INCIDENT: check_no_open_incident,
}

#: The checks that run only when the target ring's criteria ask for them.
_CRITERION_CHECKS = {
    RingCheckName.MIN_DAYS_IN_PREVIOUS: "min_days_in_previous",
    RingCheckName.MONITORING_WITHIN_THRESHOLDS: "monitoring_within_thresholds",
    RingCheckName.NO_OPEN_INCIDENT: "no_open_incident",
}


def ring_criteria_for(snapshot: dict[str, Any], ring: str) -> dict[str, Any]:
    return dict((snapshot.get("ring_criteria") or {}).get(ring) or {})


def ring_checks_plan(snapshot: dict[str, Any], ring: str) -> list[tuple[str, bool]]:
    """(check, critical) for a ring request under a policy snapshot: the three structural
    checks always, each criterion's check when the target ring's criteria set it."""
    criteria = ring_criteria_for(snapshot, ring)
    configured = snapshot.get("checks") or {}
    plan = []
    for name in RING_CHECKS:
        criterion = _CRITERION_CHECKS.get(name)
        if criterion is not None:
            value = criteria.get(criterion)
            if value is None or value is False:
                continue
        critical = name in ALWAYS_CRITICAL_RING_CHECKS or bool(
            (configured.get(name) or {}).get("critical", False)
        )
        plan.append((name, critical))
    return plan
