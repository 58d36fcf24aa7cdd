"""The deployment API refuses a ring the release has not entered (issue 13)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from registry.models import Deployment
from tests.registry.factories import service_account_with_token
from tests.releases.rings_helpers import (
    enter_directly,
    model_component,
    ring_row_counts,
    stack_release,
)

pytestmark = pytest.mark.django_db


def ci_client(team) -> APIClient:
    _, token = service_account_with_token(teams=[team])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def deploy(client, the_release, **overrides):
    body = {
        "version": model_component(the_release).pk,
        "release": the_release.pk,
        "environment": "prod",
        "ring": "internal",
        "customer_scope": "acme",
        "started_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        **overrides,
    }
    return client.post("/api/v1/deployments/", body, format="json")


def test_a_deployment_to_a_ring_the_release_entered_is_recorded_with_its_release():
    release = stack_release()
    enter_directly(release, "offline_validation", days_ago=2)
    enter_directly(release, "internal", days_ago=1)
    response = deploy(ci_client(release.team), release)
    assert response.status_code == 201, response.content
    assert response.json()["release"] == release.pk
    assert Deployment.objects.get().release_id == release.pk


@pytest.mark.parametrize(
    ("overrides", "status", "match"),
    [
        ({"ring": "guarded"}, 409, "has not entered guarded in prod"),
        ({"environment": "staging"}, 409, "has not entered internal in staging"),
        ({"ring": "canary"}, 400, "Unknown ring"),
        ({"release": None}, 400, "A ring is a state of a release"),
    ],
)
def test_a_deployment_to_a_ring_not_entered_is_refused_with_nothing_written(
    overrides, status, match
):
    release = stack_release()
    enter_directly(release, "offline_validation", days_ago=2)
    enter_directly(release, "internal", days_ago=1)
    client = ci_client(release.team)
    before = ring_row_counts()
    response = deploy(client, release, **overrides)
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert match in response.json()["detail"]
    assert ring_row_counts() == before


def test_a_version_that_is_not_a_component_of_the_release_is_refused():
    release = stack_release()
    other = stack_release(team=release.team)
    enter_directly(release, "offline_validation", days_ago=1)
    client = ci_client(release.team)
    before = ring_row_counts()
    response = deploy(client, release, version=model_component(other).pk, ring="offline_validation")
    assert response.status_code == 400, response.content
    assert "not a component" in response.json()["detail"]
    assert ring_row_counts() == before
