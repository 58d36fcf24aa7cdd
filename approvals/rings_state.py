"""Where a release stands in its rings, per environment: the rings entered (when, by which
request), the next ring, its open request, and which of its entry criteria block it now.

The blocking criteria are the ring checks themselves (``approvals.checks.release``) run on
the same facts, under the open request's snapshot or, without one, the policy a request
would be judged under now: one answer for the API, the CLI and the pages. A fixed number
of queries whatever the release's history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from approvals.checks.catalog import run_check
from approvals.checks.context import CheckContext
from approvals.checks.release import (
    ReleaseFacts,
    next_ring,
    release_facts,
    ring_checks_plan,
    ring_criteria_for,
)
from approvals.choices import OPEN_REQUEST_STATES
from approvals.models import PromotionRequest
from approvals.release_policy import policy_for_release
from registry.models import Release


def ring_state(
    release: Release, *, environments: list[str] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The release's ring state in every environment it has entered or requested a ring
    in (and in ``environments``, even when it has none there yet)."""
    now = now or timezone.now()
    facts = release_facts(release)
    open_requests = {
        (r.environment, r.target_ring): r
        for r in PromotionRequest.objects.filter(
            release=release, state__in=OPEN_REQUEST_STATES
        ).order_by("id")
    }
    names = sorted(
        {env for env, _ in facts.entries}
        | {env for env, _ in open_requests}
        | set(environments or [])
    )
    policy_snapshot: dict[str, Any] | None = None
    result = []
    for environment in names:
        entered = facts.entered(environment)
        upcoming = next_ring([e.ring for e in entered])
        open_request = open_requests.get((environment, upcoming)) if upcoming else None
        blocking: list[dict[str, Any]] = []
        if upcoming is not None:
            if open_request is not None:
                snapshot = open_request.policy_snapshot
            else:
                if policy_snapshot is None:
                    policy_snapshot = policy_for_release(release, ring=upcoming)[1]
                snapshot = policy_snapshot
            blocking = [
                {"check": row["check"], "critical": row["critical"], "detail": row["detail"]}
                for row in entry_criteria(
                    facts, snapshot, environment=environment, ring=upcoming, now=now
                )
                if not row["passed"]
            ]
        result.append(
            {
                "environment": environment,
                "entered": [
                    {
                        "ring": e.ring,
                        "entered_at": e.entered_at,
                        "request": e.request_id,
                        "entered_by": e.entered_by.get_username(),
                    }
                    for e in entered
                ],
                "next_ring": upcoming,
                "open_request": (
                    {"id": open_request.pk, "state": open_request.state} if open_request else None
                ),
                "blocked_by": blocking,
            }
        )
    return {
        "release": release.pk,
        "name": release.name,
        "version": release.version,
        "state": release.state,
        "manifest_sha256": release.manifest_sha256,
        "environments": result,
    }


def entry_criteria(
    facts: ReleaseFacts, snapshot: dict[str, Any], *, environment: str, ring: str, now: datetime
) -> list[dict[str, Any]]:
    """Every entry criterion of ``ring`` in ``environment`` under ``snapshot`` (the checks
    its plan runs), each with whether it holds now and why: no query beyond ``facts``."""
    ring_facts = facts.for_ring(
        environment=environment, ring=ring, criteria=ring_criteria_for(snapshot, ring), now=now
    )
    ctx = _context(ring_facts)
    rows = []
    for name, critical in ring_checks_plan(snapshot, ring):
        outcome = run_check(name, ctx, critical=critical)
        rows.append(
            {
                "check": name,
                "critical": critical,
                "passed": outcome.passed,
                "detail": outcome.detail,
            }
        )
    return rows


def _context(ring_facts: Any) -> CheckContext:
    """A check context carrying only the ring facts (the ring checks read nothing else)."""
    return CheckContext(
        version=None,  # type: ignore[arg-type]
        rollback_target=None,
        approved_ids=[],
        dataset_uses=[],
        evidence={},
        read_evidence=lambda _evidence: b"",
        ring=ring_facts,
    )
