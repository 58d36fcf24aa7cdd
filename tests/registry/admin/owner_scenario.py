"""The model owner's world for the admin tests: an owner who may read their team, their
models, and versions made in bulk (a list's size must not change its query count)."""

from __future__ import annotations

from datetime import datetime, timedelta

from core import permissions
from registry import semver
from registry.choices import VersionState
from registry.models import ModelVersion, RegisteredModel, Team
from tests.registry.factories import RegisteredModelFactory, approver, sha256_of


def owner_of(team: Team, **kwargs):
    """A staff member with the board's admin view permissions who may read ``team``."""
    user = approver(team, **kwargs)
    permissions.grant_team_role(user, permissions.VIEW, team)
    return user


def owned_model(team: Team, owner, **kwargs) -> RegisteredModel:
    return RegisteredModelFactory(team=team, owner=owner, **kwargs)


def bulk_versions(
    model: RegisteredModel,
    count: int,
    *,
    state: str = VersionState.APPROVED,
    expires_at: datetime | None = None,
    start: int = 0,
) -> list[ModelVersion]:
    """``count`` versions of ``model`` in one INSERT (no history: list fixtures only)."""
    versions = []
    for n in range(start, start + count):
        text = f"2.{n}.0"
        parsed = semver.parse(text)
        versions.append(
            ModelVersion(
                registered_model=model,
                version=text,
                version_core=parsed.core,
                semver_key=parsed.sort_key(),
                checksum=sha256_of(f"{model.pk}-{text}"),
                storage_uri=f"s3://models/{model.name}/{text}/",
                state=state,
                registered_by=model.owner,
                approval_expires_at=expires_at,
                approved_at=expires_at - timedelta(days=180) if expires_at else None,
            )
        )
    return ModelVersion.objects.bulk_create(versions)
