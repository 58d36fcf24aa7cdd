"""Registering a version is idempotent on (model, version, checksum) and never overwrites."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from registry.models import ModelVersion, Team
from tests.approvals.factories import governance_row_counts
from tests.registry.factories import (
    RegisteredModelFactory,
    TeamFactory,
    service_account_with_token,
    sha256_of,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/versions/"


@pytest.fixture
def ci(api_client):
    team = TeamFactory(slug="assistants")
    RegisteredModelFactory(team=team, name="support-lora")
    _, raw = service_account_with_token(teams=[team])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api_client


def payload(**overrides) -> dict:
    return {
        "team": "assistants",
        "model": "support-lora",
        "version": "1.0.0",
        "checksum": sha256_of("weights"),
        "storage_uri": "s3://models/support-lora/1.0.0/",
        **overrides,
    }


def test_registering_the_same_version_and_checksum_twice_returns_the_same_row(ci):
    # Given a version registered once
    first = ci.post(URL, payload(), format="json")
    assert first.status_code == 201

    # When CI registers exactly the same version and checksum again
    second = ci.post(URL, payload(), format="json")

    # Then it is a 200 with the same id, one row, and one registration event
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json() == first.json()
    assert ModelVersion.objects.count() == 1
    assert AuditEvent.objects.filter(verb="version.registered").count() == 1


def test_a_retry_with_other_metadata_does_not_change_the_registered_version(ci):
    # Given a registered version
    first = ci.post(URL, payload(license="apache-2.0"), format="json")
    before = governance_row_counts()

    # When CI retries with the same checksum but other metadata
    second = ci.post(URL, payload(license="proprietary"), format="json")

    # Then the original registration is returned unchanged
    assert second.status_code == 200
    assert second.json()["license"] == "apache-2.0"
    assert ModelVersion.objects.get(pk=first.json()["id"]).license == "apache-2.0"
    assert governance_row_counts() == before


def test_the_same_version_with_another_checksum_is_a_conflict_and_never_overwrites(ci):
    # Given a registered version
    first = ci.post(URL, payload(), format="json")
    before = governance_row_counts()

    # When CI registers the same version with other bytes
    response = ci.post(URL, payload(checksum=sha256_of("other weights")), format="json")

    # Then it is a 409 problem naming the checksum, and the original is untouched
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 409
    assert body["errors"] == {"checksum": ["differs from the registered version's checksum"]}
    original = ModelVersion.objects.get(pk=first.json()["id"])
    assert original.checksum == sha256_of("weights")
    assert original.storage_uri == "s3://models/support-lora/1.0.0/"
    assert original.state == "draft"
    assert governance_row_counts() == before


@pytest.mark.parametrize(
    ("first_version", "second_version"),
    [
        ("1.0.0+a", "1.0.0+b"),
        ("1.0.0", "1.0.0+b"),
        ("1.0.0+a", "1.0.0"),
        ("1.0.0-rc.1+x", "1.0.0-rc.1+y"),
    ],
)
def test_build_metadata_does_not_make_another_version(ci, first_version, second_version):
    # Given a version registered with (or without) build metadata
    first = ci.post(URL, payload(version=first_version), format="json")
    assert first.status_code == 201
    before = governance_row_counts()

    # When CI registers the same precedence with other build metadata, even the same bytes
    response = ci.post(URL, payload(version=second_version), format="json")

    # Then it is a 409: two builds cannot both claim one version, and nothing changed
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert "build metadata does not make" in response.json()["detail"]
    assert ModelVersion.objects.get().version == first_version
    assert governance_row_counts() == before


def test_the_same_version_of_another_model_is_a_separate_registration(ci):
    # Given version 1.0.0 of one model, and a second model of the same team
    assert ci.post(URL, payload(), format="json").status_code == 201
    prompt = RegisteredModelFactory(team=Team.objects.get(slug="assistants"), name="prompt")

    # When CI registers 1.0.0 of the second model with the same checksum
    response = ci.post(URL, payload(model=prompt.name), format="json")

    # Then it is a new version, with its own registration event
    assert response.status_code == 201
    assert ModelVersion.objects.count() == 2
    assert AuditEvent.objects.filter(verb="version.registered").count() == 2
