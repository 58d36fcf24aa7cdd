"""Read paths: every list and lookup filtered to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from registry import permissions
from registry.models import ModelVersion, RegisteredModel, Team


def versions_visible_to(user: Any) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(
        registered_model__team__in=permissions.teams_visible_to(user)
    ).select_related("registered_model__team", "registered_by")


def models_visible_to(user: Any) -> QuerySet[RegisteredModel]:
    return RegisteredModel.objects.filter(
        team__in=permissions.teams_visible_to(user)
    ).select_related("team", "owner", "backup_owner")


def team_for_user(user: Any, slug: str) -> Team | None:
    """The team by slug if the user may see it; a missing and a hidden team look the same."""
    return permissions.teams_visible_to(user).filter(slug=slug).first()


def approved_versions_of(
    registered_model_id: int, *, exclude_id: int | None = None
) -> QuerySet[ModelVersion]:
    queryset = ModelVersion.objects.filter(
        registered_model_id=registered_model_id, state="approved"
    )
    if exclude_id is not None:
        queryset = queryset.exclude(pk=exclude_id)
    return queryset
