"""CI attests which datasets (and time windows) a draft version was trained and evaluated on."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from registry.models import DatasetVersion, VersionDataset
from tests.registry.factories import ModelVersionFactory, TeamFactory, service_account_with_token

pytestmark = pytest.mark.django_db

TRAIN = {
    "dataset": "support-tickets",
    "version": "2026-10",
    "use": "train",
    "window_start": "2026-06-01T00:00:00Z",
    "window_end": "2026-09-30T00:00:00Z",
}


@pytest.fixture
def version():
    return ModelVersionFactory(registered_model__team=TeamFactory(slug="assistants"))


@pytest.fixture
def ci(version, api_client):
    _, token = service_account_with_token(teams=[version.registered_model.team])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api_client


def url(version) -> str:
    return f"/api/v1/versions/{version.pk}/datasets/"


def test_ci_links_a_training_dataset_with_its_window_and_it_is_audited(version, ci):
    response = ci.post(url(version), TRAIN, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["dataset"], body["version"], body["use"]) == (
        "support-tickets",
        "2026-10",
        "train",
    )
    assert body["window_start"].startswith("2026-06-01")
    assert AuditEvent.objects.filter(verb="version.dataset_linked").count() == 1
    listed = ci.get(url(version)).json()
    assert [item["id"] for item in listed] == [body["id"]]


def test_linking_the_same_dataset_again_returns_the_existing_link(version, ci):
    first = ci.post(url(version), TRAIN, format="json").json()
    again = ci.post(url(version), TRAIN, format="json")
    assert (again.status_code, again.json()["id"]) == (200, first["id"])
    assert VersionDataset.objects.count() == 1
    assert AuditEvent.objects.filter(verb="version.dataset_linked").count() == 1


def test_a_dataset_version_never_changes_its_window(version, ci):
    ci.post(url(version), TRAIN, format="json")
    before = (DatasetVersion.objects.get().window_end, VersionDataset.objects.count())
    response = ci.post(
        url(version), {**TRAIN, "use": "eval", "window_end": "2026-10-31T00:00:00Z"}, format="json"
    )
    assert response.status_code == 409
    assert (DatasetVersion.objects.get().window_end, VersionDataset.objects.count()) == before


@pytest.mark.parametrize(
    "bad",
    [
        {"window_start": "2026-10-01T00:00:00Z", "window_end": "2026-01-01T00:00:00Z"},
        {"window_start": "2026-06-01T00:00:00"},
        {"use": "fine-tuning"},
        {"dataset": "Support Tickets"},
        {"checksum": "abc"},
        {"uri": "https://169.254.169.254/data"},
        {"state": "approved"},
    ],
    ids=[
        "window-reversed",
        "naive-time",
        "bad-use",
        "bad-name",
        "bad-checksum",
        "ssrf-uri",
        "extra",
    ],
)
def test_bad_dataset_links_are_400s_and_change_nothing(version, ci, bad):
    response = ci.post(url(version), {**TRAIN, **bad}, format="json")
    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert VersionDataset.objects.count() == DatasetVersion.objects.count() == 0


def test_datasets_of_a_version_past_draft_cannot_change(ci):
    team_version = ModelVersionFactory(
        registered_model__team=TeamFactory(slug="other"), state="candidate"
    )
    _, token = service_account_with_token(teams=[team_version.registered_model.team])
    ci.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = ci.post(url(team_version), TRAIN, format="json")
    assert response.status_code == 409
    assert VersionDataset.objects.count() == 0


def test_another_team_s_version_is_a_404(version, api_client):
    _, token = service_account_with_token(teams=[TeamFactory(slug="elsewhere")])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.post(url(version), TRAIN, format="json").status_code == 404
    assert api_client.get(url(version)).status_code == 404
    assert VersionDataset.objects.count() == 0
