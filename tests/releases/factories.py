"""Factories for releases built directly (bulk fixtures, ring and monitoring tests).

Real releases go through ``registry.services.releases``; ``ReleaseFactory`` skips its
validation and audit trail, so use it only where those are not under test. Pass
``components=[version, dataset_version, ...]`` to pin components.
"""

from __future__ import annotations

from typing import Any

import factory

from registry import semver
from registry.choices import ReleaseComponentKind, VersionState
from registry.models import DatasetVersion, Evidence, ModelVersion, Release, ReleaseComponent
from tests.registry.factories import ModelVersionFactory, TeamFactory, UserFactory


def component_kind(target: object) -> str:
    if isinstance(target, DatasetVersion):
        return ReleaseComponentKind.DATASET
    if isinstance(target, Evidence):
        return ReleaseComponentKind.EVALUATION_REPORT
    return target.registered_model.kind


def pin(release: Release, target: object) -> ReleaseComponent:
    kind = component_kind(target)
    fields = {
        ReleaseComponentKind.DATASET: "dataset_version",
        ReleaseComponentKind.EVALUATION_REPORT: "evaluation",
    }.get(kind, "model_version")
    return ReleaseComponent.objects.create(release=release, kind=kind, **{fields: target})


class ReleaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Release
        skip_postgeneration_save = True

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"stack-{n}")
    version = factory.Sequence(lambda n: f"1.{n}.0")
    version_core = factory.LazyAttribute(lambda o: semver.parse(o.version).core)
    semver_key = factory.LazyAttribute(lambda o: semver.parse(o.version).sort_key())
    what_changed = "Raised the decline threshold."
    why = "Fewer false declines at the same fraud loss."
    data_used = "transactions 2026-Q3"
    channels_tested = factory.LazyFunction(lambda: ["web"])
    expected_benefits = "Two points fewer false declines."
    known_risks = "Slightly more fraud on mobile."
    rollback_triggers = factory.LazyFunction(lambda: ["p95 latency over 250 ms for 15 min"])
    rollback_owner = factory.SubFactory(UserFactory)
    created_by = factory.SubFactory(UserFactory)
    manifest_sha256 = "0" * 64

    @factory.post_generation
    def components(obj, create, extracted, **kwargs):
        if not create:
            return
        targets = extracted
        if targets is None:
            targets = [
                ModelVersionFactory(
                    registered_model__team=obj.team, state=VersionState.APPROVED, complete=True
                )
            ]
        for target in targets:
            pin(obj, target)


def anchor_version(release: Release) -> ModelVersion:
    return release.components.exclude(model_version=None).first().model_version


def bulk_releases(
    team: Any, n: int, *, actor: Any, pinned: ModelVersion, prefix: str = "bulk"
) -> list[Release]:
    """``n`` releases of ``team`` pinning ``pinned``, written in bulk (thousands in a second,
    for query counts at two sizes; no audit trail, like ``ReleaseFactory``)."""
    key = semver.parse("1.0.0").sort_key()
    releases = Release.objects.bulk_create(
        Release(
            team=team,
            name=f"{prefix}-{team.slug}-{i}",
            version="1.0.0",
            version_core="1.0.0",
            semver_key=key,
            what_changed="x",
            why="x",
            data_used="x",
            expected_benefits="x",
            known_risks="x",
            rollback_owner=actor,
            created_by=actor,
            manifest_sha256="0" * 64,
        )
        for i in range(n)
    )
    ReleaseComponent.objects.bulk_create(
        ReleaseComponent(release=r, kind=component_kind(pinned), model_version=pinned)
        for r in releases
    )
    return releases
