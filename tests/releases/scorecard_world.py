"""A scorecard world with known answers: teams alpha and beta (and gamma, seen only by
auditors), releases entering general at known times from versions registered at known
times, decided requests with and without failed checks, exceptions and incidents.

All moments are in June 2026 (UTC). ``WINDOW`` is June (``NOW`` is 30 June, noon), so the
window has 29 whole days: 1 to 29 June. The expected figures are spelled out next to the
rows that make them; ``tests/releases/test_scorecard.py`` asserts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import Permission

from approvals.choices import IncidentSeverity, IncidentSource, RequestState
from approvals.models import CheckException, CheckResult, Incident, RingEntry
from registry.choices import ModelKind, Ring, VersionState
from registry.models import ModelVersion, Release
from tests.approvals.factories import PromotionRequestFactory
from tests.registry.factories import ModelVersionFactory, TeamFactory, UserFactory, manager
from tests.releases.factories import ReleaseFactory, bulk_releases


def at(day: int, hour: int = 0, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


NOW = at(30, 12)
WINDOW = (at(1), at(1, month=7))


@dataclass
class ScorecardWorld:
    alpha: Any
    beta: Any
    gamma: Any
    alpha_manager: Any
    beta_manager: Any
    auditor: Any
    actor: Any


def registered(team: Any, when: datetime, *, kind: str = ModelKind.MODEL, **kw: Any) -> Any:
    version = ModelVersionFactory(
        registered_model__team=team, registered_model__kind=kind, complete=True, **kw
    )
    ModelVersion.objects.filter(pk=version.pk).update(created_at=when)
    return version


def released(team: Any, components: list, actor: Any, entries: list[tuple]) -> Release:
    """A release pinning ``components`` that entered each (environment, ring, when)."""
    release = ReleaseFactory(team=team, components=components)
    for environment, ring, when in entries:
        RingEntry.objects.create(
            release=release, environment=environment, ring=ring, entered_at=when, entered_by=actor
        )
    return release


def decided(team: Any, state: str, when: datetime, *, failed: tuple[str, ...] = ()) -> Any:
    """A request of ``team`` that reached ``state`` at ``when``, with failed checks."""
    request = PromotionRequestFactory(
        version__registered_model__team=team, state=state, state_changed_at=when
    )
    for name in failed:
        CheckResult.objects.create(
            request=request, check_name=name, passed=False, detail=f"{name} failed"
        )
    CheckResult.objects.create(request=request, check_name="sbom", passed=True, detail="ok")
    return request


def excepted(request: Any, check_name: str, when: datetime, actor: Any) -> CheckException:
    result = request.check_results.get(check_name=check_name)
    return CheckException.objects.create(
        request=request,
        check_result=result,
        check_name=check_name,
        justification="Accepted for the pilot: the metric is within noise.",
        granted_by=actor,
        granted_at=when,
        expires_at=when + timedelta(days=30),
    )


def incident(
    team: Any,
    opened: datetime,
    resolved: datetime | None,
    actor: Any,
    *,
    release: Release | None = None,
    versions: tuple = (),
) -> Incident:
    row = Incident.objects.create(
        team=team,
        release=release,
        title="p95 latency breach",
        severity=IncidentSeverity.SEV2,
        state="resolved" if resolved else "open",
        source=IncidentSource.PERSON,
        opened_by=actor,
        opened_at=opened,
        resolved_at=resolved,
    )
    row.versions.set(versions)
    return row


def auditor_user() -> Any:
    user = UserFactory(username="scorecard-auditor")
    user.user_permissions.add(Permission.objects.get(codename="view_team_registry"))
    return user


def build() -> ScorecardWorld:
    alpha, beta, gamma = (TeamFactory(slug=s, name=s.title()) for s in ("alpha", "beta", "gamma"))
    actor = UserFactory()
    general, guarded = Ring.GENERAL, Ring.GUARDED

    # Lead time. Alpha: 35, 20 and 10 days (median 20, p90 32); beta: 2 days.
    r1 = released(alpha, [registered(alpha, at(1, month=5))], actor, [("prod", general, at(5))])
    r2_components = [
        registered(alpha, at(25, month=5)),
        registered(alpha, at(21, month=5)),  # the earliest model registration counts
        registered(alpha, at(1, month=4), kind=ModelKind.CONFIG),  # not a model: ignored
    ]
    released(alpha, r2_components, actor, [("prod", guarded, at(2)), ("prod", general, at(10))])
    r3 = released(alpha, [registered(alpha, at(1))], actor, [("prod", general, at(11))])
    # Entered general before the window (in eu), again inside it (in us): not counted.
    r4 = released(
        alpha,
        [registered(alpha, at(1, month=3))],
        actor,
        [("eu", general, at(20, month=5)), ("us", general, at(15))],
    )
    # Only guarded in the window; and an adapter-only release: no lead time either.
    released(alpha, [registered(alpha, at(1))], actor, [("prod", guarded, at(12))])
    adapter = registered(alpha, at(2), kind=ModelKind.ADAPTER)
    released(alpha, [adapter], actor, [("prod", general, at(14))])
    released(beta, [registered(beta, at(1))], actor, [("prod", general, at(3))])
    released(gamma, [registered(gamma, at(1))], actor, [("prod", general, at(4))])

    # Decisions. Alpha: 4 decided in June, 2 caught; beta: 1 decided, 1 caught.
    decided(alpha, RequestState.REJECTED, at(10), failed=("eval_thresholds",))
    decided(alpha, RequestState.CHANGES_REQUESTED, at(12), failed=("sbom_valid",))
    p3 = decided(alpha, RequestState.APPROVED, at(14), failed=("eval_thresholds",))
    decided(alpha, RequestState.REJECTED, at(15))  # the board said no: no check failed
    decided(alpha, RequestState.REJECTED, at(20, month=5), failed=("artifact_scan",))  # May
    p6 = decided(alpha, RequestState.IN_REVIEW, at(16), failed=("metadata_complete",))
    beta_request = decided(beta, RequestState.REJECTED, at(5), failed=("artifact_scan",))
    decided(gamma, RequestState.REJECTED, at(5), failed=("artifact_scan",))

    # Exceptions. Alpha: eval_thresholds 1, metadata_complete 1; beta: artifact_scan 1.
    excepted(p3, "eval_thresholds", at(13), actor)
    excepted(p6, "metadata_complete", at(16), actor)
    old = decided(alpha, RequestState.IN_REVIEW, at(1, month=5), failed=("rollback_target",))
    excepted(old, "rollback_target", at(2, month=5), actor)  # May: not counted
    excepted(beta_request, "artifact_scan", at(4), actor)

    # Incidents. Alpha days covered: 1-3 (I0), 8-9 (I2), 20 (I1), 25-29 (I3) = 11 of 29.
    # Escaped: I1 (r1 entered general on the 5th) and I2 (version approved on the 1st).
    approved = registered(alpha, at(1, month=5), state=VersionState.APPROVED)
    ModelVersion.objects.filter(pk=approved.pk).update(approved_at=at(1))
    incident(alpha, at(28, month=5), at(3, 12), actor, release=r4)  # I0: spans the start
    incident(alpha, at(20), at(21), actor, release=r1)  # I1: ends at midnight
    incident(alpha, at(8, 10), at(9, 2), actor, versions=(approved,))  # I2
    incident(alpha, at(25, 6), None, actor)  # I3: still open
    # Opened on the 2nd on r3, which entered its first ring on the 11th: not escaped.
    incident(alpha, at(2, 1), at(2, 3), actor, release=r3)  # on day 2, already covered
    # Beta: days 10-11 covered (27 free); ended exactly at the window's start: no day.
    incident(beta, at(1, month=5), at(1), actor)
    incident(beta, at(10), at(12), actor)
    incident(gamma, at(10), None, actor)

    return ScorecardWorld(
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        alpha_manager=manager(alpha),
        beta_manager=manager(beta),
        auditor=auditor_user(),
        actor=actor,
    )


def more_of_everything(team: Any, actor: Any, n: int) -> None:
    """``n`` more releases entering general, decided requests, exceptions and incidents of
    ``team`` in the window (for query counts at two sizes), written in bulk."""
    version = registered(team, at(1))
    releases = bulk_releases(team, n, actor=actor, pinned=version)
    RingEntry.objects.bulk_create(
        RingEntry(
            release=r, environment="prod", ring=Ring.GENERAL, entered_at=at(6), entered_by=actor
        )
        for r in releases
    )
    for i in range(max(1, n // 20)):
        request = decided(team, RequestState.REJECTED, at(7), failed=("eval_thresholds",))
        excepted(request, "eval_thresholds", at(7), actor)
        incident(team, at(7), at(7, 5), actor, release=releases[i])
