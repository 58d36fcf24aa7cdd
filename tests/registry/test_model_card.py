"""The model card: one function assembles it from the version's structured fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from registry.model_card import model_card
from registry.models import Dataset, DatasetVersion, VersionDataset
from tests.registry.factories import ModelVersionFactory, RegisteredModelFactory, UserFactory

pytestmark = pytest.mark.django_db

WINDOW_START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 6, 30, tzinfo=UTC)


def _dataset(version, name: str, use: str, license: str) -> DatasetVersion:
    dataset = Dataset.objects.create(team=version.registered_model.team, name=name)
    dataset_version = DatasetVersion.objects.create(
        dataset=dataset,
        version="2026-06",
        license=license,
        checksum="c" * 64,
        window_start=WINDOW_START,
        window_end=WINDOW_END,
    )
    VersionDataset.objects.create(model_version=version, dataset_version=dataset_version, use=use)
    return dataset_version


def test_the_card_shows_lineage_datasets_uses_mitigations_and_owners_by_name():
    # Given an adapter fine-tuned with LoRA from a registered base version, trained and
    # evaluated on two licensed datasets, owned by two named people
    owner = UserFactory(first_name="Ada", last_name="Lovelace")
    backup = UserFactory(username="grace")
    model = RegisteredModelFactory(name="support-drafter", owner=owner, backup_owner=backup)
    base = ModelVersionFactory(registered_model__name="base-llm", version="3.0.0")
    version = ModelVersionFactory(
        registered_model=model,
        version="1.1.0",
        complete=True,
        base_model_version=base,
        base_model_reference="",
    )
    _dataset(version, "tickets", "train", "CC-BY-4.0")
    _dataset(version, "golden-set", "eval", "proprietary")

    # When its card is assembled
    card = model_card(version)

    # Then it names the version, its lineage and method, and its datasets with licence
    # and time window
    assert (card.model_name, card.version, card.kind_label) == (
        "support-drafter",
        "1.1.0",
        "Adapter (LoRA, prefix...)",
    )
    assert card.base_model == "base-llm 3.0.0"
    assert card.base_model_version_id == base.pk
    assert card.fine_tune_method_label == "LoRA"
    assert [(d.use_label, d.name, d.license) for d in card.datasets] == [
        ("Evaluation", "golden-set", "proprietary"),
        ("Training", "tickets", "CC-BY-4.0"),
    ]
    assert [d.name for d in card.training_datasets] == ["tickets"]
    assert {(d.window_start, d.window_end) for d in card.datasets} == {(WINDOW_START, WINDOW_END)}
    # And the uses, mitigations, risk and owners as people read them
    assert card.intended_use == ["support drafting"]
    assert card.prohibited_use == ["medical advice"]
    assert card.mitigations == ["human review"]
    assert card.risk_rating_label == "Medium"
    assert str(card.owner) == "Ada Lovelace"
    assert str(card.backup_owner) == "grace"
    assert card.escalation_contact == "oncall@example.test"


def test_an_external_base_model_is_named_by_its_reference_and_the_card_costs_two_queries(
    django_assert_num_queries,
):
    # Given a version whose base model is outside the registry, with no datasets
    version = ModelVersionFactory(complete=True)

    # When its card is assembled
    with django_assert_num_queries(2):
        card = model_card(version.pk)

    # Then the lineage is the external reference and no dataset is listed
    assert card.base_model == "hf://example/base@1"
    assert card.base_model_version_id is None
    assert card.datasets == []


def test_with_a_viewer_the_card_costs_five_queries_releases_ring_entries_and_incidents_included(
    django_assert_num_queries,
):
    # Given a version pinned by a release that entered a ring, with an incident on it
    from approvals.choices import IncidentSeverity, IncidentSource
    from approvals.models import Incident, RingEntry
    from tests.registry.admin.owner_scenario import owner_of
    from tests.releases.factories import ReleaseFactory

    version = ModelVersionFactory(complete=True)
    team = version.registered_model.team
    release = ReleaseFactory(team=team, components=[version])
    RingEntry.objects.create(
        release=release,
        environment="prod",
        ring="internal",
        entered_at=WINDOW_END,
        entered_by=UserFactory(),
    )
    Incident.objects.create(
        team=team,
        release=release,
        title="latency spike",
        severity=IncidentSeverity.SEV2,
        source=IncidentSource.PERSON,
        opened_by=UserFactory(),
        opened_at=WINDOW_END,
    )
    reader = owner_of(team)
    model_card(version.pk, viewer=reader)  # the reader's permissions, cached on the user

    # When its card is assembled for a reader of the team: version, datasets, releases,
    # their ring entries, incidents
    with django_assert_num_queries(5):
        card = model_card(version.pk, viewer=reader)

    # Then the release, its ring and the incident are on it
    assert [(r.release_id, [ring.ring for ring in r.rings]) for r in card.releases] == [
        (release.pk, ["internal"])
    ]
    assert [i.title for i in card.incidents] == ["latency spike"]


def test_a_version_reads_as_its_model_name_and_version():
    # Given a version of a named model
    version = ModelVersionFactory(registered_model__name="fraud-scorer", version="1.1.0")

    # Then it is shown by name, not by the model's id
    assert str(version) == "fraud-scorer 1.1.0"
