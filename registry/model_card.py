"""A version's model card: what it is, what it was made from and for, and who answers
for it, assembled from the version's structured fields.

One function, ``model_card(version)``, feeds every page that shows a card (the review
page of a promotion request, the printable model-card page), so the card reads the same
wherever a board member or an owner meets it. The caller decides who may see the version
(through ``ModelVersion.objects.visible_to``); this only reads it.

Given a ``viewer``, the card also lists the releases that pin the version and the incidents
on them or on the version, restricted to the teams the viewer sees (a release of another
team may pin this version). Both grow for as long as the version serves, so each is the
newest ``LATEST`` rows sliced in SQL, with a flag saying whether there are more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q

from registry.choices import (
    RING_ORDER,
    DatasetUse,
    FineTuneMethod,
    ModelKind,
    Ring,
    RiskRating,
    VersionState,
)
from registry.models import ModelVersion, Release, ReleaseComponent, VersionDataset

#: Rows of each growing list a page shows (the card's releases and incidents, the release
#: page's ring requests, reports and incidents); a link lists the rest.
LATEST = 10


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset version the model was trained or evaluated on, and under what licence."""

    use: str
    use_label: str
    name: str
    version: str
    license: str
    window_start: datetime
    window_end: datetime
    checksum: str
    uri: str


@dataclass(frozen=True)
class RingEntered:
    """A ring a release entered in one environment."""

    environment: str
    ring: str
    ring_label: str
    entered_at: datetime


@dataclass(frozen=True)
class ReleaseEntry:
    """A release that pins the version: where it stands and which rings it entered."""

    release_id: int
    name: str
    version: str
    team: str
    state: str
    state_label: str
    created_at: datetime
    rings: list[RingEntered]


@dataclass(frozen=True)
class IncidentEntry:
    """An incident on a release pinning the version, or naming the version itself."""

    incident_id: int
    title: str
    severity: str
    severity_label: str
    state: str
    state_label: str
    opened_at: datetime
    release_id: int | None
    release: str


@dataclass(frozen=True)
class Person:
    username: str
    full_name: str
    email: str

    def __str__(self) -> str:
        return self.full_name or self.username


@dataclass(frozen=True)
class ModelCard:
    """Everything a model card shows, as plain values (labels already resolved)."""

    version_id: int
    model_name: str
    team: str
    kind: str
    kind_label: str
    description: str
    version: str
    state: str
    state_label: str
    checksum: str
    storage_uri: str
    #: Lineage: the registered base version ("base-model 1.0.0"), or the external reference.
    base_model: str
    base_model_version_id: int | None
    fine_tune_method: str
    fine_tune_method_label: str
    license: str
    risk_rating: str
    risk_rating_label: str
    intended_use: list[str]
    prohibited_use: list[str]
    mitigations: list[str]
    owner: Person
    backup_owner: Person
    escalation_contact: str
    source_commit: str
    dependency_lock_hash: str
    prompt_checksum: str
    created_at: datetime
    approved_at: datetime | None
    approval_expires_at: datetime | None
    datasets: list[DatasetEntry] = field(default_factory=list)
    #: The newest ``LATEST`` releases pinning the version that the viewer sees (none
    #: without a viewer), and whether older ones exist.
    releases: list[ReleaseEntry] = field(default_factory=list)
    more_releases: bool = False
    incidents: list[IncidentEntry] = field(default_factory=list)
    more_incidents: bool = False

    @property
    def training_datasets(self) -> list[DatasetEntry]:
        return [entry for entry in self.datasets if entry.use == DatasetUse.TRAIN]

    @property
    def evaluation_datasets(self) -> list[DatasetEntry]:
        return [entry for entry in self.datasets if entry.use == DatasetUse.EVAL]


def model_card(version: ModelVersion | int, *, viewer: Any = None) -> ModelCard:
    """The model card of ``version`` (a version already known to be visible to the reader,
    or its id). Two queries, whatever the number of datasets: the version with its model,
    team, owners and base version, then its dataset versions. With a ``viewer``, three
    more whatever the version's history: the newest releases pinning it, their ring
    entries, and the newest incidents (only rows of teams the viewer sees)."""
    version_id = version.pk if isinstance(version, ModelVersion) else version
    loaded = ModelVersion.objects.select_related(
        "registered_model__team",
        "registered_model__owner",
        "registered_model__backup_owner",
        "base_model_version__registered_model",
    ).get(pk=version_id)
    links = (
        VersionDataset.objects.filter(model_version_id=version_id)
        .select_related("dataset_version__dataset")
        .order_by("use", "dataset_version__dataset__name", "dataset_version__version", "id")
    )
    model = loaded.registered_model
    base = loaded.base_model_version
    releases, more_releases = _releases(version_id, viewer) if viewer else ([], False)
    incidents, more_incidents = _incidents(version_id, viewer) if viewer else ([], False)
    return ModelCard(
        version_id=loaded.pk,
        model_name=model.name,
        team=model.team.slug,
        kind=model.kind,
        kind_label=_label(ModelKind, model.kind),
        description=model.description,
        version=loaded.version,
        state=loaded.state,
        state_label=_label(VersionState, loaded.state),
        checksum=loaded.checksum,
        storage_uri=loaded.storage_uri,
        base_model=str(base) if base is not None else loaded.base_model_reference,
        base_model_version_id=base.pk if base is not None else None,
        fine_tune_method=loaded.fine_tune_method,
        fine_tune_method_label=_label(FineTuneMethod, loaded.fine_tune_method),
        license=loaded.license,
        risk_rating=loaded.risk_rating,
        risk_rating_label=_label(RiskRating, loaded.risk_rating),
        intended_use=_strings(loaded.allowed_use_cases),
        prohibited_use=_strings(loaded.prohibited_use_cases),
        mitigations=_strings(loaded.mitigation_controls),
        owner=_person(model.owner),
        backup_owner=_person(model.backup_owner),
        escalation_contact=model.escalation_contact,
        source_commit=loaded.source_commit,
        dependency_lock_hash=loaded.dependency_lock_hash,
        prompt_checksum=loaded.prompt_checksum,
        created_at=loaded.created_at,
        approved_at=loaded.approved_at,
        approval_expires_at=loaded.approval_expires_at,
        datasets=[_dataset_entry(link) for link in links],
        releases=releases,
        more_releases=more_releases,
        incidents=incidents,
        more_incidents=more_incidents,
    )


def _releases(version_id: int, viewer: Any) -> tuple[list[ReleaseEntry], bool]:
    """The newest ``LATEST`` releases pinning the version (one more is read to know whether
    older ones exist), then their ring entries: two queries."""
    rows = list(
        Release.objects.visible_to(viewer)
        .filter(components__model_version_id=version_id)
        .select_related("team")
        # A release pins a version at most once (release_component_version_once): no
        # duplicate rows, so no DISTINCT.
        .prefetch_related("ring_entries")
        .order_by("-created_at", "-id")[: LATEST + 1]
    )
    entries = [
        ReleaseEntry(
            release_id=release.pk,
            name=release.name,
            version=release.version,
            team=release.team.slug,
            state=release.state,
            state_label=release.get_state_display(),
            created_at=release.created_at,
            rings=sorted(
                (
                    RingEntered(
                        environment=entry.environment,
                        ring=entry.ring,
                        ring_label=_label(Ring, entry.ring),
                        entered_at=entry.entered_at,
                    )
                    for entry in release.ring_entries.all()
                ),
                key=lambda ring: (ring.environment, _ring_rank(ring.ring)),
            ),
        )
        for release in rows[:LATEST]
    ]
    return entries, len(rows) > LATEST


def _incidents(version_id: int, viewer: Any) -> tuple[list[IncidentEntry], bool]:
    """The newest ``LATEST`` incidents naming the version or opened on a release pinning
    it, of the teams the viewer sees: one query."""
    # registry never imports approvals: the incident model is the one behind the relation
    # approvals declares on versions (``Incident.versions``, related name ``incidents``).
    incident_model = ModelVersion._meta.get_field("incidents").related_model
    pinning = ReleaseComponent.objects.filter(model_version_id=version_id).values("release_id")
    naming = incident_model.versions.through.objects.filter(modelversion_id=version_id).values(
        "incident_id"
    )
    rows = list(
        incident_model.objects.visible_to(viewer)
        # Subqueries rather than joins: an incident both naming the version and on a
        # pinning release is one row, without DISTINCT.
        .filter(Q(pk__in=naming) | Q(release_id__in=pinning))
        .select_related("release")
        .order_by("-opened_at", "-id")[: LATEST + 1]
    )
    entries = [
        IncidentEntry(
            incident_id=incident.pk,
            title=incident.title,
            severity=incident.severity,
            severity_label=incident.get_severity_display(),
            state=incident.state,
            state_label=incident.get_state_display(),
            opened_at=incident.opened_at,
            release_id=incident.release_id,
            release=str(incident.release) if incident.release_id else "",
        )
        for incident in rows[:LATEST]
    ]
    return entries, len(rows) > LATEST


def _ring_rank(ring: str) -> int:
    return RING_ORDER.index(ring) if ring in RING_ORDER else len(RING_ORDER)


def _dataset_entry(link: VersionDataset) -> DatasetEntry:
    dataset_version = link.dataset_version
    return DatasetEntry(
        use=link.use,
        use_label=_label(DatasetUse, link.use),
        name=dataset_version.dataset.name,
        version=dataset_version.version,
        license=dataset_version.license,
        window_start=dataset_version.window_start,
        window_end=dataset_version.window_end,
        checksum=dataset_version.checksum,
        uri=dataset_version.uri,
    )


def _person(user) -> Person:
    return Person(username=user.get_username(), full_name=user.get_full_name(), email=user.email)


def _label(choices, value: str) -> str:
    """The human label of a stored choice; blank stays blank, an unknown value is shown."""
    if not value:
        return ""
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _strings(value) -> list[str]:
    # The JSON columns hold lists of strings (the registration serializer says so); an
    # older row holding anything else is shown as text rather than breaking the card.
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)] if value else []


__all__ = [
    "LATEST",
    "DatasetEntry",
    "IncidentEntry",
    "ModelCard",
    "Person",
    "ReleaseEntry",
    "RingEntered",
    "model_card",
]
