"""Factories for releases built directly (bulk fixtures, ring and monitoring tests).

Real releases go through ``registry.services.releases``; ``ReleaseFactory`` skips its
validation and audit trail, so use it only where those are not under test. Pass
``components=[version, dataset_version, ...]`` to pin components.
"""

from __future__ import annotations

import copy
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


# The notes of every release built here, one at a time or in bulk (and by the scale seed,
# bench/seed_scale.py): real releases get theirs from ``release_create``.
RELEASE_NOTES: dict[str, Any] = {
    "what_changed": "Raised the decline threshold.",
    "why": "Fewer false declines at the same fraud loss.",
    "data_used": "transactions 2026-Q3",
    "channels_tested": ["web"],
    "expected_benefits": "Two points fewer false declines.",
    "known_risks": "Slightly more fraud on mobile.",
    "rollback_triggers": ["p95 latency over 250 ms for 15 min"],
}


def _note(name: str) -> Any:
    return factory.LazyFunction(lambda: copy.deepcopy(RELEASE_NOTES[name]))


class ReleaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Release
        skip_postgeneration_save = True

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"stack-{n}")
    version = factory.Sequence(lambda n: f"1.{n}.0")
    version_core = factory.LazyAttribute(lambda o: semver.parse(o.version).core)
    semver_key = factory.LazyAttribute(lambda o: semver.parse(o.version).sort_key())
    what_changed = _note("what_changed")
    why = _note("why")
    data_used = _note("data_used")
    channels_tested = _note("channels_tested")
    expected_benefits = _note("expected_benefits")
    known_risks = _note("known_risks")
    rollback_triggers = _note("rollback_triggers")
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
    names = [f"{prefix}-{team.slug}-{i}" for i in range(n)]
    return bulk_releases_pinning([(team.pk, name, pinned) for name in names], actor=actor)


def bulk_releases_pinning(
    pins: list[tuple[int, str, ModelVersion]], *, actor: Any, batch_size: int | None = None
) -> list[Release]:
    """One release 1.0.0 per ``(team id, name, version)`` pinning that version, written in
    bulk with ``actor`` its author and rollback owner: two ``bulk_create`` calls, no audit
    trail or history (the scale seed writes its own, as the services would)."""
    key = semver.parse("1.0.0").sort_key()
    releases = Release.objects.bulk_create(
        [
            Release(
                team_id=team_id,
                name=name,
                version="1.0.0",
                version_core="1.0.0",
                semver_key=key,
                rollback_owner=actor,
                created_by=actor,
                manifest_sha256="0" * 64,
                **copy.deepcopy(RELEASE_NOTES),
            )
            for team_id, name, _ in pins
        ],
        batch_size=batch_size,
    )
    ReleaseComponent.objects.bulk_create(
        [
            ReleaseComponent(release=release, kind=component_kind(version), model_version=version)
            for release, (_, _, version) in zip(releases, pins, strict=True)
        ],
        batch_size=batch_size,
    )
    return releases
