"""GET/POST /api/v1/releases/<id>/rings/: ring state and ring requests (issue 13)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.models import PromotionRequest
from tests.releases.rings_helpers import enter_directly, ring_row_counts, stack_release
from tests.releases.test_rings_deployments import ci_client

pytestmark = pytest.mark.django_db


def test_the_ring_state_names_entered_rings_the_next_ring_and_what_blocks_it():
    release = stack_release()
    enter_directly(release, "offline_validation", days_ago=5)
    enter_directly(release, "internal", days_ago=4)
    enter_directly(release, "guarded", days_ago=1)
    response = ci_client(release.team).get(f"/api/v1/releases/{release.pk}/rings/")
    assert response.status_code == 200, response.content
    (prod,) = response.json()["environments"]
    assert [e["ring"] for e in prod["entered"]] == ["offline_validation", "internal", "guarded"]
    assert prod["next_ring"] == "segment_monitoring"
    assert prod["open_request"] is None
    assert {b["check"] for b in prod["blocked_by"]} == {
        "min_days_in_previous",
        "monitoring_within_thresholds",
    }


def test_the_ring_state_takes_the_same_queries_for_few_and_many_entries():
    small, large = stack_release(), stack_release()
    enter_directly(small, "offline_validation", days_ago=5)
    for environment in ("prod", "staging", "eu", "us"):
        for ring, days in (("offline_validation", 9), ("internal", 8), ("guarded", 7)):
            enter_directly(large, ring, environment=environment, days_ago=days)
    counts = []
    for release in (small, large):
        client = ci_client(release.team)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/v1/releases/{release.pk}/rings/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_ring_request_through_the_api_is_a_201_and_a_replay_writes_nothing_more():
    release = stack_release()
    client = ci_client(release.team)
    body = {"environment": "prod", "ring": "offline_validation"}
    first = client.post(
        f"/api/v1/releases/{release.pk}/rings/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == 201, first.content
    request = PromotionRequest.objects.get(pk=first.json()["id"])
    assert (request.release_id, request.environment, request.target_ring) == (
        release.pk,
        "prod",
        "offline_validation",
    )
    before = ring_row_counts()
    again = client.post(
        f"/api/v1/releases/{release.pk}/rings/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert ring_row_counts() == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"environment": "prod", "ring": "internal"}, 409),
        ({"environment": "prod", "ring": "beta"}, 400),
        ({"environment": "prod"}, 400),
    ],
)
def test_a_bad_ring_request_through_the_api_is_refused_with_nothing_written(body, status):
    release = stack_release()
    client = ci_client(release.team)
    before = ring_row_counts()
    response = client.post(f"/api/v1/releases/{release.pk}/rings/", body, format="json")
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert ring_row_counts() == before


def test_another_teams_release_is_a_404():
    release = stack_release()
    other = stack_release()
    client = ci_client(other.team)
    assert client.get(f"/api/v1/releases/{release.pk}/rings/").status_code == 404
