"""GET /api/v1/served/: which model and threshold served customer C at time T (issue 13)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from registry.choices import TokenScope
from registry.models import Deployment
from tests.registry.factories import UserFactory, service_account_with_token
from tests.releases.rings_helpers import config_component, model_component, stack_release

pytestmark = pytest.mark.django_db


def deploy(release, *, start, end=None, customer="acme"):
    return Deployment.objects.create(
        version=model_component(release),
        release=release,
        environment="prod",
        ring="general",
        customer_scope=customer,
        started_at=start,
        ended_at=end,
        recorded_by=UserFactory(),
    )


def reader(team) -> APIClient:
    _, token = service_account_with_token(teams=[team], scopes=[TokenScope.READ])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_the_endpoint_names_the_release_and_its_threshold_version_for_a_customer_at_t():
    now = timezone.now()
    release = stack_release()
    deploy(release, start=now - timedelta(days=10), end=now - timedelta(days=2))
    client = reader(release.team)

    at = (now - timedelta(days=5)).isoformat()
    response = client.get("/api/v1/served/", {"customer": "acme", "at": at})

    assert response.status_code == 200, response.content
    (served,) = response.json()["served"]
    assert served["release"]["id"] == release.pk
    threshold = config_component(release)
    (config,) = [c for c in served["release"]["components"] if c["kind"] == "config"]
    assert config["version_id"] == threshold.pk
    assert config["parameters"] == {"decline_above": 0.82}
    later = (now - timedelta(days=1)).isoformat()
    assert client.get("/api/v1/served/", {"customer": "acme", "at": later}).json()["served"] == []


def test_another_teams_deployments_are_not_served_to_a_reader():
    now = timezone.now()
    release = stack_release()
    deploy(release, start=now - timedelta(days=3))
    outsider = reader(stack_release().team)

    response = outsider.get("/api/v1/served/", {"customer": "acme", "at": now.isoformat()})

    assert response.status_code == 200
    assert response.json()["served"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"at": "2026-11-01T00:00:00+00:00"},
        {"customer": "acme"},
        {"customer": "acme", "at": "2026-11-01T00:00:00"},
        {"customer": "acme", "at": "2026-02-30T00:00:00+00:00"},
        {"customer": "acme", "at": "yesterday"},
        {"customer": "acme", "at": "9999-12-31T23:59:59.999999-01:00"},
        {"customer": "acme", "at": "9999-12-31T23:59:59.999999+00:00"},
    ],
)
def test_a_missing_customer_or_a_bad_moment_is_a_problem_document(params):
    client = reader(stack_release().team)

    response = client.get("/api/v1/served/", params)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")


def test_the_endpoint_runs_the_same_queries_for_one_or_many_deployments():
    now = timezone.now()
    release = stack_release()
    client = reader(release.team)
    client.get("/api/v1/served/", {"customer": "warm", "at": now.isoformat()})
    counts = []
    for n in (1, 8):
        customer = f"customer-{n}"
        for _ in range(n):
            deploy(release, start=now - timedelta(days=3), customer=customer)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/served/", {"customer": customer, "at": now.isoformat()})
        assert len(response.json()["served"]) == n
        counts.append(len(queries))
    assert counts[0] == counts[1]
