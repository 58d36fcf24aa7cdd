"""Ids too large for a 64-bit key are refused as input errors, never a database overflow."""

from __future__ import annotations

import pytest

from tests.registry.factories import TeamFactory, service_account_with_token

pytestmark = pytest.mark.django_db
HUGE = "99999999999999999999999"
TOO_BIG_BY_ONE = str(2**63)


@pytest.fixture
def ci(api_client):
    _, token = service_account_with_token(teams=[TeamFactory()])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api_client


@pytest.mark.parametrize("huge", [HUGE, TOO_BIG_BY_ONE])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/versions/{id}/",
        "/api/v1/versions/{id}/evidence/",
        "/api/v1/versions/{id}/datasets/",
        "/api/v1/promotion-requests/{id}/",
        "/api/v1/promotion-requests/{id}/decision/",
    ],
)
def test_a_huge_id_in_a_path_is_a_404(ci, path, huge):
    response = ci.get(path.format(id=huge))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("huge", [HUGE, TOO_BIG_BY_ONE, "-1", "1.5", "²"])
@pytest.mark.parametrize("path", ["/api/v1/promotion-requests/", "/api/v1/deployments/"])
def test_a_bad_id_in_a_list_filter_is_a_400(ci, path, huge):
    response = ci.get(path, {"version": huge})
    assert response.status_code == 400
    assert response.json()["errors"] == {"version": ["invalid"]}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/promotion-requests/", {"version": int(HUGE)}),
        ("/api/v1/promotion-requests/", {"version": 1, "rollback_target": int(HUGE)}),
        (
            "/api/v1/deployments/",
            {"version": int(HUGE), "environment": "prod", "started_at": "2026-01-01T00:00:00Z"},
        ),
    ],
)
def test_a_huge_id_in_a_body_is_a_400(ci, path, body):
    response = ci.post(path, body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
