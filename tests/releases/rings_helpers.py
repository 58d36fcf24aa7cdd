"""Helpers for ring tests: a sealed release (manifest and digest as submission writes
them), the team's CI, the approvers the seeded release policies ask for, and signing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Model
from django.utils import timezone

from approvals import services
from approvals.models import MonitoringReport, PromotionRequest, RingEntry
from approvals.services.rings import ring_entry_request
from audit.models import AuditEvent
from registry.choices import ModelKind, VersionState
from registry.models import Deployment, ModelVersion, Release, ReleaseComponent
from registry.release_manifest import (
    COMPONENT_RELATED,
    component_entry,
    manifest_digest,
    manifest_of,
)
from registry.serving import served_deployments, served_row
from tests.approvals.factories import ci_user
from tests.registry.factories import (
    PASSWORD,
    ModelVersionFactory,
    RegisteredModelFactory,
    TeamFactory,
    UserFactory,
    approver,
)
from tests.releases.factories import ReleaseFactory


def seal(release: Release) -> Release:
    """Write the manifest and its digest from the pinned rows, as release_create does."""
    components = ReleaseComponent.objects.filter(release=release).select_related(*COMPONENT_RELATED)
    release.manifest = manifest_of([component_entry(c) for c in components])
    release.manifest_sha256 = manifest_digest(release.manifest)
    release.save()
    return release


def stack_release(
    *,
    team: Any = None,
    categories: list[str] | None = None,
    threshold_state: str = VersionState.APPROVED,
    **fields: Any,
) -> Release:
    """A sealed release of an approved model and a threshold config (``threshold_state``)
    on ``team``, with the given change categories detected."""
    team = team or TeamFactory()
    model = ModelVersionFactory(
        registered_model=RegisteredModelFactory(team=team, kind=ModelKind.MODEL),
        state=VersionState.APPROVED,
        complete=True,
    )
    threshold = ModelVersionFactory(
        registered_model=RegisteredModelFactory(team=team, kind=ModelKind.CONFIG),
        state=threshold_state,
        parameters={"decline_above": 0.82},
    )
    release = ReleaseFactory(
        team=team,
        components=[threshold, model],
        change_categories=[
            {"category": c, "why": f"{c} detected in the diff"} for c in categories or []
        ],
        **fields,
    )
    ci_user(team)  # the team's CI exists before anything is counted
    return seal(release)


def model_component(release: Release) -> ModelVersion:
    return release.components.get(kind="model").model_version


def config_component(release: Release) -> ModelVersion:
    return release.components.get(kind="config").model_version


def request_ring(release: Release, ring: str, environment: str = "prod") -> PromotionRequest:
    """The team's CI asks for the ring; the checks run inline (as the worker would)."""
    return ring_entry_request(
        actor=ci_user(release.team),
        release=release,
        environment=environment,
        ring=ring,
        run_checks_now=True,
    )


def sign(request: PromotionRequest, user: Any, role: str) -> None:
    services.signoff_record(actor=user, request=request.pk, role=role, password=PASSWORD)


def enter_directly(release: Release, ring: str, *, environment: str = "prod", days_ago: float = 0):
    """A ring entry written as an earlier approval would have (tests of later rings)."""
    return RingEntry.objects.create(
        release=release,
        environment=environment,
        ring=ring,
        entered_at=timezone.now() - timedelta(days=days_ago),
        entered_by=UserFactory(),
    )


def monitoring_report(
    release: Release, ring: str, *, environment: str = "prod", breaches=None, hours_ago: float = 1
) -> MonitoringReport:
    end = timezone.now() - timedelta(hours=hours_ago)
    return MonitoringReport.objects.create(
        release=release,
        environment=environment,
        ring=ring,
        window_start=end - timedelta(hours=1),
        window_end=end,
        request_volume=1000,
        latency_p95_ms=300.0 if breaches else 120.0,
        retry_rate=0.01,
        body_sha256="a" * 64,
        breaches=breaches or [],
        uploaded_by=UserFactory(),
        uploaded_at=end,
    )


def board(team: Any, *roles: str) -> dict[str, Any]:
    return {role: approver(team, role) for role in roles}


def ring_row_counts() -> dict[str, int]:
    """Everything a refused ring request or deployment must leave untouched."""
    models: dict[str, type[Model]] = {
        "requests": PromotionRequest,
        "ring_entries": RingEntry,
        "deployments": Deployment,
        "audit_events": AuditEvent,
    }
    counts = {name: model.objects.count() for name, model in models.items()}
    counts["approved_versions"] = ModelVersion.objects.filter(state=VersionState.APPROVED).count()
    return counts


def served(actor: Any, *, customer: str, at: Any) -> list[dict[str, Any]]:
    """What served ``customer`` at ``at``, as the API's ``/served/`` pages it
    (``served_deployments``, each row ``served_row``), every row at once."""
    return [served_row(row) for row in served_deployments(actor, customer=customer, at=at)]
