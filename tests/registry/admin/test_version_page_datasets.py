"""The version page names its datasets (name, version, licence, time window), not
their ids."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registry.models import DatasetVersion
from tests.registry.admin.owner_scenario import owner_of
from tests.registry.factories import ready_version

pytestmark = pytest.mark.django_db


def test_the_version_page_lists_each_dataset_by_name_with_its_licence(client):
    # Given a version trained and evaluated on two datasets, one with a licence
    version = ready_version()
    DatasetVersion.objects.filter(dataset__name="data-train").update(license="cc-by-4.0")
    client.force_login(owner_of(version.registered_model.team))

    # When its page is opened
    page = client.get(reverse("admin:registry_modelversion_change", args=[version.pk]))

    # Then the datasets are named, with their licence (or "not stated") and window
    content = page.content.decode()
    for text in ("data-train", "data-eval", "cc-by-4.0", "not stated", "Training", "Evaluation"):
        assert text in content, text
    train = DatasetVersion.objects.get(dataset__name="data-train")
    assert f"{train.dataset_id}@v1" not in content
