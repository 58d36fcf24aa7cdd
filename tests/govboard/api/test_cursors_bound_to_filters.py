"""A list's cursor belongs to its filters (issue 14): each filter of the promotion-request,
version, deployment and release lists picks another set of rows, and a cursor is a
boundary row of one walk, so under other values (or none) it would silently skip the rows
before it. Such a cursor is a 400 problem; the links a page hands out keep the filters,
and walking them visits every row of the filtered set once.

(Served-at binds its customer, moment and environment: tests/releases/test_served_at_api.py.)
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.choices import RequestState
from approvals.models import PromotionRequest
from registry.choices import VersionState
from registry.models import Deployment, ModelVersion, Release
from tests.approvals.factories import PromotionRequestFactory
from tests.registry.factories import ModelVersionFactory, TeamFactory, UserFactory
from tests.releases.factories import ReleaseFactory
from tests.world import assert_problem

pytestmark = pytest.mark.django_db

ROWS_PER_TEAM = 5


@pytest.fixture
def api() -> APIClient:
    """Two teams with five versions, requests, deployments and releases each (some states
    and customers differ), and a superuser's client that sees them all."""
    recorder = UserFactory()
    for slug in ("checkout", "vision"):
        team = TeamFactory(slug=slug)
        for index in range(ROWS_PER_TEAM):
            state = VersionState.APPROVED if index % 2 else VersionState.CANDIDATE
            version = ModelVersionFactory(registered_model__team=team, state=state)
            PromotionRequestFactory(
                version=version,
                state=RequestState.IN_REVIEW if index % 2 else RequestState.REJECTED,
            )
            Deployment.objects.create(
                version=version,
                environment="prod" if index % 2 else "staging",
                customer_scope="acme" if slug == "checkout" else "globex",
                started_at=timezone.now() - timedelta(days=index + 1),
                recorded_by=recorder,
            )
        ReleaseFactory.create_batch(ROWS_PER_TEAM, team=team)
    client = APIClient()
    client.force_authenticate(UserFactory(is_superuser=True))
    return client


def _requests(**where):
    return PromotionRequest.objects.filter(**where).order_by("-id")


def _versions(**where):
    return ModelVersion.objects.filter(**where).order_by("-id")


def _deployments(**where):
    return Deployment.objects.filter(**where).order_by("-started_at", "id")


def _releases(**where):
    return Release.objects.filter(**where).order_by("-created_at", "-id")


# A list, the filter a walk starts under, another value of it, and that walk's rows.
CASES = {
    "requests of a team": (
        "/api/v1/promotion-requests/",
        {"team": "checkout"},
        {"team": "vision"},
        lambda: _requests(team__slug="checkout"),
    ),
    "requests in a state": (
        "/api/v1/promotion-requests/",
        {"state": RequestState.IN_REVIEW},
        {"state": RequestState.REJECTED},
        lambda: _requests(state=RequestState.IN_REVIEW),
    ),
    "versions of a team": (
        "/api/v1/versions/",
        {"team": "checkout"},
        {"team": "vision"},
        lambda: _versions(registered_model__team__slug="checkout"),
    ),
    "versions in a state": (
        "/api/v1/versions/",
        {"state": VersionState.APPROVED},
        {"state": VersionState.CANDIDATE},
        lambda: _versions(state=VersionState.APPROVED),
    ),
    "a customer's deployments": (
        "/api/v1/deployments/",
        {"customer_scope": "acme"},
        {"customer_scope": "globex"},
        lambda: _deployments(customer_scope="acme"),
    ),
    "an environment's deployments": (
        "/api/v1/deployments/",
        {"environment": "prod"},
        {"environment": "staging"},
        lambda: _deployments(environment="prod"),
    ),
    "releases of a team": (
        "/api/v1/releases/",
        {"team": "checkout"},
        {"team": "vision"},
        lambda: _releases(team__slug="checkout"),
    ),
}


def _cursor(link: str) -> str:
    (cursor,) = parse_qs(urlsplit(link).query)["cursor"]
    return cursor


@pytest.mark.parametrize("name", list(CASES))
def test_a_cursor_of_one_filter_value_is_refused_under_another_or_none(api, name):
    url, walked, other, _ = CASES[name]
    first = api.get(url, {**walked, "page_size": 2})
    assert first.status_code == 200, first.content[:300]
    cursor = _cursor(first.json()["next"])

    for params in (other, {}):
        problem = assert_problem(api.get(url, {**params, "cursor": cursor, "page_size": 2}), 400)
        assert list(problem["errors"]) == ["cursor"]


@pytest.mark.parametrize("name", list(CASES))
def test_the_walk_under_the_same_filters_visits_every_row_once(api, name):
    url, walked, _, expected = CASES[name]
    response = api.get(url, {**walked, "page_size": 2})
    seen = []
    while True:
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        seen.extend(row["id"] for row in body["results"])
        if body["next"] is None:
            break
        # The link keeps the filters: the cursor is accepted under them.
        assert all(parse_qs(urlsplit(body["next"]).query)[k] == [v] for k, v in walked.items())
        response = api.get(body["next"])

    assert seen == list(expected().values_list("id", flat=True))
    assert len(seen) > 2  # more than one page
