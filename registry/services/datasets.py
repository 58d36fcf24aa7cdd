"""Datasets a version was trained or evaluated on, with their time windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.services import record
from audit.verbs import AuditVerb
from core.errors import Conflict, IllegalTransition, InvalidInput
from core.permissions import Verb, require
from registry.choices import DatasetUse, VersionState
from registry.models import Dataset, DatasetVersion, ModelVersion, VersionDataset
from registry.services.versions import _validation_to_invalid, lock_version


@transaction.atomic
def version_dataset_link(
    *,
    actor: Any,
    version: ModelVersion | int,
    dataset: str,
    dataset_version: str,
    use: str,
    window_start: datetime,
    window_end: datetime,
    uri: str = "",
    checksum: str = "",
    license: str = "",
) -> tuple[VersionDataset, bool]:
    """Record that a draft version used a dataset version (train or eval).

    The dataset and its version are created on first mention, in the version's team. A
    dataset version is immutable: naming it again with another window, URI or checksum is a
    conflict. Linking the same thing twice returns the existing link (``created`` False).
    """
    if use not in DatasetUse.values:
        raise InvalidInput(f"use must be one of {', '.join(DatasetUse.values)}.")
    if window_start > window_end:
        raise InvalidInput("The dataset window must start before it ends.")
    locked = lock_version(version)
    team = locked.registered_model.team
    require(actor, Verb.REGISTER, team, refusal="You may not describe this team's versions.")
    if locked.state != VersionState.DRAFT:
        raise IllegalTransition(
            f"Datasets are attested while a version is draft, not {locked.state}."
        )
    named, _ = Dataset.objects.get_or_create(team=team, name=dataset)
    snapshot = DatasetVersion(
        dataset=named,
        version=dataset_version,
        window_start=window_start,
        window_end=window_end,
        uri=uri,
        checksum=checksum,
        license=license,
    )
    try:
        named.full_clean()
        snapshot.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise _validation_to_invalid(exc, "The dataset is invalid.") from exc
    existing = DatasetVersion.objects.filter(dataset=named, version=dataset_version).first()
    if existing is None:
        try:
            with transaction.atomic():
                snapshot.save()
        except IntegrityError:
            existing = DatasetVersion.objects.get(dataset=named, version=dataset_version)
    if existing is not None:
        recorded = (
            existing.window_start,
            existing.window_end,
            existing.uri,
            existing.checksum,
            existing.license,
        )
        if recorded != (window_start, window_end, uri, checksum, license):
            raise Conflict(
                f"Dataset {dataset}@{dataset_version} is already recorded with another window, "
                "URI, checksum or licence; a dataset version never changes."
            )
        snapshot = existing
    link = VersionDataset.objects.filter(
        model_version=locked, dataset_version=snapshot, use=use
    ).first()
    if link is not None:
        return link, False
    link = VersionDataset.objects.create(model_version=locked, dataset_version=snapshot, use=use)
    record(
        actor=actor,
        verb=AuditVerb.VERSION_DATASET_LINKED,
        target=locked,
        team_id=team.pk,
        data={
            "dataset": dataset,
            "dataset_version": dataset_version,
            "use": use,
            "window_start": window_start.isoformat(),
            "window_end": window_end.isoformat(),
            "license": license,
            # The link is new (a use is linked once): nothing before, the link after.
            "before": None,
            "after": {"dataset_version": snapshot.pk, "use": use},
        },
    )
    return link, True
