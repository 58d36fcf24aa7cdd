"""Issue 14: every API list runs a fixed number of SQL queries at two sizes, counts
nothing, and its keyset pages (``?cursor=``) walk every row exactly once, in the list's
order, forwards and back; a cursor that is not the list's own is a 400 with nothing read.

(Release, monitoring-report and incident lists, and served-at's own cases: tests/releases/.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.choices import RequestState
from approvals.models import GovernancePolicy, PromotionRequest
from registry.choices import TokenScope, VersionState
from registry.models import Deployment, ModelVersion
from tests.approvals.factories import PromotionRequestFactory
from tests.registry.factories import (
    ModelVersionFactory,
    RegisteredModelFactory,
    TeamFactory,
    UserFactory,
    approver,
    service_account_with_token,
)
from tests.world import assert_problem

pytestmark = pytest.mark.django_db

SMALL, LARGE = 5, 60
# Every deployment the world grows started before this moment and never ends: all serve.
SERVED_AT = timezone.now().isoformat()


class World:
    def __init__(self) -> None:
        self.team = TeamFactory(slug="checkout")
        self.model = RegisteredModelFactory(team=self.team, name="fraud-scorer")
        self.other = RegisteredModelFactory(team=self.team, name="fraud-ranker")
        self.hidden = RegisteredModelFactory(name="not-yours")
        # A board member holding every role the default policy asks for.
        default = GovernancePolicy.objects.get(is_default=True)
        self.board = approver(self.team, *default.required_roles)
        self.deployer = UserFactory()
        _, raw = service_account_with_token(teams=[self.team], scopes=[TokenScope.READ])
        self.ci = APIClient()
        self.ci.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        self.person = APIClient()
        self.person.force_login(self.board)
        self.n = 0

    def grow(self, to: int) -> None:
        """Until each list holds ``to`` rows of the team (and some of another team)."""
        while self.n < to:
            self.n += 1
            model = self.model if self.n % 2 else self.other
            version = ModelVersionFactory(
                registered_model=model, version=f"1.{self.n}.0", state=VersionState.APPROVED
            )
            ModelVersionFactory(registered_model=self.hidden, version=f"1.{self.n}.0")
            PromotionRequestFactory(version=version, state=RequestState.IN_REVIEW)
            Deployment.objects.create(
                version=version,
                environment="prod",
                customer_scope="acme",
                started_at=timezone.now() - timedelta(days=400 - self.n),
                recorded_by=self.deployer,
            )


@pytest.fixture
def world():
    return World()


LISTS = {
    "versions": ("ci", "/api/v1/versions/", {}),
    "one model's versions": ("ci", "/api/v1/versions/", {"model": "fraud-scorer"}),
    "versions by state": ("ci", "/api/v1/versions/", {"state": "approved"}),
    "requests": ("ci", "/api/v1/promotion-requests/", {}),
    "requests of a team": ("ci", "/api/v1/promotion-requests/", {"team": "checkout"}),
    "my review queue": ("person", "/api/v1/promotion-requests/", {"awaiting": "me"}),
    "deployments": ("ci", "/api/v1/deployments/", {}),
    "a customer's deployments": ("ci", "/api/v1/deployments/", {"customer_scope": "acme"}),
    "served at": ("ci", "/api/v1/served/", {"customer": "acme", "at": SERVED_AT}),
}


def _get(world: World, name: str, **extra):
    caller, url, params = LISTS[name]
    client = getattr(world, caller)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {**params, **extra})
    return response, len(queries)


@pytest.mark.parametrize("name", list(LISTS))
def test_an_api_list_runs_the_same_queries_at_two_sizes_and_counts_nothing(world, name):
    world.grow(SMALL)
    _get(world, name, page_size=3)  # warms the process's caches
    small_response, small = _get(world, name, page_size=3)
    world.grow(LARGE)

    large_response, large = _get(world, name, page_size=3)

    assert small_response.status_code == large_response.status_code == 200
    assert len(large_response.json()["results"]) == 3
    assert large == small
    assert "count" not in large_response.json()


def _walk(world: World, name: str, link_key: str, first_url=None) -> tuple[list[int], str]:
    caller, url, params = LISTS[name]
    client = getattr(world, caller)
    response = client.get(first_url or url, {} if first_url else {**params, "page_size": 7})
    ids, last_url = [], first_url
    while True:
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        page = [row["id"] for row in body["results"]]
        ids.extend(page if link_key == "next" else reversed(page))
        if body[link_key] is None:
            return ids, last_url
        last_url = body[link_key]
        response = client.get(body[link_key])


def _expected_ids(world: World, name: str) -> list[int]:
    if name.startswith("requests") or name == "my review queue":
        mine = PromotionRequest.objects.filter(version__registered_model__team=world.team)
        return list(mine.order_by("-id").values_list("id", flat=True))
    if name.endswith("deployments") or name == "served at":
        rows = Deployment.objects.filter(version__registered_model__team=world.team)
        return list(rows.order_by("-started_at", "id").values_list("id", flat=True))
    versions = ModelVersion.objects.filter(registered_model__team=world.team)
    if name == "one model's versions":
        return list(
            versions.filter(registered_model=world.model)
            .order_by("-semver_key", "-id")
            .values_list("id", flat=True)
        )
    return list(versions.order_by("-id").values_list("id", flat=True))


@pytest.mark.parametrize("name", list(LISTS))
def test_following_next_then_previous_walks_every_row_once_in_order(world, name):
    world.grow(30)

    forwards, last_page = _walk(world, name, "next")
    backwards, _ = _walk(world, name, "previous", first_url=last_page)

    expected = _expected_ids(world, name)
    if name == "my review queue":
        assert sorted(forwards) == sorted(expected)  # the queue's own order
    else:
        assert forwards == expected
    assert len(set(forwards)) == len(forwards)
    # From the last page back to the first: the same rows, in the reverse order.
    assert last_page is not None
    assert backwards == forwards[::-1]


def test_a_row_registered_between_pages_is_neither_repeated_nor_skipped(world):
    world.grow(10)
    first = world.ci.get("/api/v1/versions/", {"page_size": 4}).json()
    world.grow(11)  # newer than the first page: it belongs before it, not in the next one

    second = world.ci.get(first["next"]).json()

    seen = [row["id"] for row in first["results"] + second["results"]]
    assert len(set(seen)) == 8
    assert (
        max(seen) < ModelVersion.objects.filter(registered_model__team=world.team).latest("id").pk
    )


@pytest.mark.parametrize(
    "cursor",
    ["", "garbage", "a" * 3000, "eyJzIjoiL2FwaS92MS92ZXJzaW9ucy8ifQ:1x:bad"],
)
def test_a_cursor_that_is_not_the_lists_own_is_a_400_problem(world, cursor):
    world.grow(3)
    response = world.ci.get("/api/v1/versions/", {"cursor": cursor})
    if cursor == "":
        assert response.status_code == 200  # no cursor: the first page
        return
    problem = assert_problem(response, 400)
    assert "cursor" in problem["errors"]


def test_another_lists_cursor_or_another_orders_cursor_is_refused(world):
    world.grow(5)
    deployments = world.ci.get("/api/v1/deployments/", {"page_size": 2}).json()
    all_versions = world.ci.get("/api/v1/versions/", {"page_size": 2}).json()
    foreign = deployments["next"].split("cursor=")[1].split("&")[0]
    by_precedence = all_versions["next"].split("cursor=")[1].split("&")[0]

    assert_problem(world.ci.get("/api/v1/versions/", {"cursor": foreign}), 400)
    assert_problem(
        world.ci.get("/api/v1/versions/", {"cursor": by_precedence, "model": "fraud-scorer"}),
        400,
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [({"page": "2"}, "page"), ({"page_size": "0"}, "page_size"), ({"page_size": "x"}, "page_size")],
)
def test_page_numbers_and_bad_page_sizes_are_400_problems(world, params, field):
    world.grow(3)
    problem = assert_problem(world.ci.get("/api/v1/versions/", params), 400)
    assert field in problem["errors"]


def test_a_page_size_over_the_cap_is_capped_at_200(world):
    world.grow(3)
    body = world.ci.get("/api/v1/versions/", {"page_size": "100000"}).json()
    assert len(body["results"]) == 3
