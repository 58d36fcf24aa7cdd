"""Read paths: every list and lookup filtered to what the user may see."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from registry.choices import EvidenceKind
from registry.models import (
    Deployment,
    Evidence,
    FindingTriage,
    ModelVersion,
    RegisteredModel,
    Team,
    VulnerabilityFinding,
)


def versions_visible_to(user: Any) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.visible_to(user).select_related(
        "registered_model__team", "registered_by"
    )


def ownership_q(user: Any, lookup: str = "") -> Q:
    """The models ``user`` owns or is the backup owner of, at ``lookup`` (a path to the
    registered model, e.g. ``registered_model__``; empty on the model itself)."""
    return Q(**{f"{lookup}owner": user}) | Q(**{f"{lookup}backup_owner": user})


def versions_owned_by(user: Any) -> QuerySet[ModelVersion]:
    """The versions of models the user owns or is the backup owner of ("My models"),
    among those they may see."""
    return versions_visible_to(user).filter(ownership_q(user, "registered_model__"))


def models_visible_to(user: Any) -> QuerySet[RegisteredModel]:
    return RegisteredModel.objects.visible_to(user).select_related("team", "owner", "backup_owner")


def models_owned_by(user: Any) -> QuerySet[RegisteredModel]:
    """The models the user owns or backs up, among those they may see, by name."""
    return (
        RegisteredModel.objects.visible_to(user)
        .filter(ownership_q(user))
        .select_related("team")
        .order_by("name", "id")
    )


def team_for_user(user: Any, slug: str) -> Team | None:
    """The team by slug if the user may see it; a missing and a hidden team look the same."""
    return Team.objects.visible_to(user).filter(slug=slug).first()


def deployments_visible_to(
    user: Any,
    *,
    environment: str | None = None,
    customer_scope: str | None = None,
    version_id: int | None = None,
    active_from: datetime | None = None,
    active_until: datetime | None = None,
) -> QuerySet[Deployment]:
    """Deployments the user may see; with a window (aware datetimes, read from text by
    ``core.api.params.aware_datetime_param``), those that served during it."""
    queryset = Deployment.objects.visible_to(user).select_related(
        "version__registered_model__team", "recorded_by"
    )
    if environment:
        queryset = queryset.filter(environment=environment)
    if customer_scope:
        queryset = queryset.filter(customer_scope=customer_scope)
    if version_id is not None:
        queryset = queryset.filter(version_id=version_id)
    if active_from is not None:
        queryset = queryset.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=active_from))
    if active_until is not None:
        queryset = queryset.filter(started_at__lt=active_until)
    return queryset.order_by("-started_at", "-id")


def effective_triages(version_id: int) -> dict[tuple[str, str], FindingTriage]:
    """The newest verdict per (vulnerability id, package) for a version, in one query."""
    verdicts: dict[tuple[str, str], FindingTriage] = {}
    for triage in FindingTriage.objects.filter(version_id=version_id).order_by("id"):
        verdicts[(triage.vulnerability_id, triage.package)] = triage
    return verdicts


def current_findings(version_id: int) -> list[VulnerabilityFinding]:
    """The findings of the version's newest dependency scan report (the one its checks
    read), in report order; one query."""
    newest_scan = (
        Evidence.objects.filter(version_id=version_id, kind=EvidenceKind.DEPENDENCY_SCAN)
        .order_by("-id")
        .values("id")[:1]
    )
    return list(VulnerabilityFinding.objects.filter(evidence_id__in=newest_scan).order_by("id"))
