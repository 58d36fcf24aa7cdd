"""The printable model card page of a version: its structured fields, a print
stylesheet, a 404 for a version the reader may not see, and a fixed query count."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from registry.choices import DatasetUse
from registry.models import Dataset, DatasetVersion, VersionDataset
from tests.registry.admin.owner_scenario import owner_of
from tests.registry.factories import ModelVersionFactory, TeamFactory, ready_version

pytestmark = pytest.mark.django_db


def card_url(version) -> str:
    return reverse("admin:model_card", args=[version.pk])


def link_datasets(version, count: int, *, start: int = 0) -> None:
    team = version.registered_model.team
    now = timezone.now()
    datasets = Dataset.objects.bulk_create(
        Dataset(team=team, name=f"corpus-{n}") for n in range(start, start + count)
    )
    dataset_versions = DatasetVersion.objects.bulk_create(
        DatasetVersion(
            dataset=dataset,
            version="v1",
            license="cc-by-4.0",
            window_start=now - timedelta(days=90),
            window_end=now - timedelta(days=30),
        )
        for dataset in datasets
    )
    VersionDataset.objects.bulk_create(
        VersionDataset(model_version=version, dataset_version=dv, use=DatasetUse.TRAIN)
        for dv in dataset_versions
    )


def test_the_model_card_shows_the_versions_structured_fields_and_its_approval(client):
    # Given an approved version with complete metadata, datasets and an expiry in 9 days
    version = ready_version(
        state="approved",
        fine_tune_method="lora",
        allowed_use_cases=["support drafting"],
        prohibited_use_cases=["medical advice"],
        mitigation_controls=["human review"],
        approval_expires_at=timezone.now() + timedelta(days=9, hours=1),
    )
    owner = owner_of(version.registered_model.team)
    client.force_login(owner)

    # When the owner opens its model card
    response = client.get(card_url(version))

    # Then the card shows lineage, fine-tune method, datasets, uses, mitigations, owners
    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        "hf://example/base@1",
        "LoRA",
        "data-train",
        "data-eval",
        "support drafting",
        "medical advice",
        "human review",
        version.registered_model.owner.username,
        version.registered_model.backup_owner.username,
        "Approved",
        "expires in 9 days",
    ):
        assert text in page, text
    # And, pinned by no release, it says so in both of the release sections
    assert "No release pins this version." in page
    assert "No incident names this version or a release pinning it." in page
    # And it links its print stylesheet, which has print rules
    assert 'href="/static/registry/model_card.css"' in page
    stylesheet = Path(finders.find("registry/model_card.css")).read_text()
    assert "@media print" in stylesheet


def test_another_teams_model_card_is_a_404(client):
    # Given an owner of one team and a version of another team
    owner = owner_of(TeamFactory())
    hidden = ModelVersionFactory(complete=True)
    client.force_login(owner)

    # When they open the hidden version's model card
    response = client.get(card_url(hidden))

    # Then it is not found, and nothing of the version is shown
    assert response.status_code == 404
    assert hidden.registered_model.name not in response.content.decode()


def test_a_model_card_for_a_version_that_does_not_exist_is_a_404(client):
    client.force_login(owner_of(TeamFactory()))
    assert client.get(reverse("admin:model_card", args=[999_999])).status_code == 404


def test_the_model_card_runs_the_same_queries_with_20_and_with_2000_datasets(client):
    # Given a version trained on 20 datasets
    version = ModelVersionFactory(complete=True)
    link_datasets(version, 20)
    client.force_login(owner_of(version.registered_model.team))

    # When its card is opened with 20 datasets, and again with 2,000
    with CaptureQueriesContext(connection) as at_20:
        small = client.get(card_url(version))
    link_datasets(version, 1980, start=20)
    with CaptureQueriesContext(connection) as at_2000:
        large = client.get(card_url(version))

    # Then both list every dataset, in the same number of queries (the releases and
    # incidents sections among them: tests/registry/admin/test_model_card_releases.py)
    assert len(small.context["card"].datasets) == 20
    assert len(large.context["card"].datasets) == 2000
    assert len(at_20) == len(at_2000), [q["sql"] for q in at_2000]
