"""The review page's ring panel: what a board member decides on when a promotion request
asks for a release to enter its next ring (``PromotionRequest.release`` and
``target_ring`` set, ``approvals.services.rings``).

The release and its pinned components (the manifest as submitted, with each model
component's state now), the rings it has entered, the target ring's entry criteria each
with whether it holds now and why (``rings_state.entry_criteria``: the ring checks
themselves, under the request's policy snapshot, never a second copy of their rules),
the change categories detected at submission (``registry.release_categories``, stored on
the release) and the open incidents that block promotion. Five queries whatever the
release's history: the release, then ``release_facts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from approvals.checks.release import release_facts, ring_criteria_for, ring_label
from approvals.choices import RingCheckName
from approvals.rings_state import entry_criteria
from registry.choices import RING_ORDER, ChangeCategory, ReleaseComponentKind, VersionState
from registry.models import Release


@dataclass(frozen=True)
class ComponentRow:
    kind: str
    kind_label: str
    name: str
    version: str
    team: str
    #: A model component's state now ("" for datasets and evaluation reports).
    state_label: str


@dataclass(frozen=True)
class RingEnteredRow:
    environment: str
    ring_label: str
    entered_at: datetime
    request_id: int | None
    entered_by: str


@dataclass(frozen=True)
class CriterionRow:
    check: str
    label: str
    critical: bool
    passed: bool
    detail: str


@dataclass(frozen=True)
class CategoryRow:
    category: str
    label: str
    why: str


@dataclass(frozen=True)
class IncidentRow:
    incident_id: int
    title: str
    severity_label: str
    state_label: str
    opened_at: datetime


@dataclass(frozen=True)
class RingPanel:
    release: Release
    environment: str
    target_ring: str
    target_ring_label: str
    #: The target ring's criteria values from the request's snapshot (min days, ...).
    criteria_settings: dict[str, Any]
    components: list[ComponentRow]
    entered: list[RingEnteredRow]
    criteria: list[CriterionRow]
    categories: list[CategoryRow]
    blocking_incidents: list[IncidentRow]

    @property
    def failed_criteria(self) -> int:
        return sum(1 for row in self.criteria if not row.passed)


def ring_panel(request: Any, *, now: datetime) -> RingPanel | None:
    """The ring panel of ``request`` (a request the reader may see), or None for a plain
    version request."""
    if not request.release_id or not request.target_ring:
        return None
    release = Release.objects.select_related("team").get(pk=request.release_id)
    facts = release_facts(release)
    snapshot = request.policy_snapshot or {}
    criteria = entry_criteria(
        facts, snapshot, environment=request.environment, ring=request.target_ring, now=now
    )
    states_now = {c.model_version_id: c.model_version.state for c in facts.components}
    check_labels = dict(RingCheckName.choices)
    category_labels = dict(ChangeCategory.choices)
    return RingPanel(
        release=release,
        environment=request.environment,
        target_ring=request.target_ring,
        target_ring_label=ring_label(request.target_ring),
        criteria_settings=ring_criteria_for(snapshot, request.target_ring),
        components=[_component(entry, states_now) for entry in release.manifest or []],
        entered=[
            RingEnteredRow(
                environment=entry.environment,
                ring_label=ring_label(entry.ring),
                entered_at=entry.entered_at,
                request_id=entry.request_id,
                entered_by=entry.entered_by.get_username(),
            )
            for entry in sorted(
                facts.entries.values(),
                key=lambda e: (e.environment, _rank(e.ring), e.entered_at),
            )
        ],
        criteria=[
            CriterionRow(
                check=row["check"],
                label=check_labels.get(row["check"], row["check"]),
                critical=row["critical"],
                passed=row["passed"],
                detail=row["detail"],
            )
            for row in criteria
        ],
        categories=[
            CategoryRow(
                category=str(item.get("category", "")),
                label=category_labels.get(item.get("category"), str(item.get("category", ""))),
                why=str(item.get("why", "")),
            )
            for item in release.change_categories or []
            if isinstance(item, dict)
        ],
        blocking_incidents=[
            IncidentRow(
                incident_id=incident.pk,
                title=incident.title,
                severity_label=incident.get_severity_display(),
                state_label=incident.get_state_display(),
                opened_at=incident.opened_at,
            )
            for incident in sorted(
                facts.blocking_incidents, key=lambda i: (i.opened_at, i.pk), reverse=True
            )
        ],
    )


def _component(entry: dict[str, Any], states_now: dict[int, str]) -> ComponentRow:
    kind = str(entry.get("kind", ""))
    state = ""
    if kind not in (ReleaseComponentKind.DATASET, ReleaseComponentKind.EVALUATION_REPORT):
        value = states_now.get(entry.get("model_version"), entry.get("state", ""))
        state = _choice_label(VersionState, value)
    return ComponentRow(
        kind=kind,
        kind_label=_choice_label(ReleaseComponentKind, kind),
        name=str(entry.get("name", "")),
        version=str(entry.get("version", "")),
        team=str(entry.get("team", "")),
        state_label=state,
    )


def _choice_label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _rank(ring: str) -> int:
    return RING_ORDER.index(ring) if ring in RING_ORDER else len(RING_ORDER)


__all__ = [
    "CategoryRow",
    "ComponentRow",
    "CriterionRow",
    "IncidentRow",
    "RingEnteredRow",
    "RingPanel",
    "ring_panel",
]
