"""GET /api/v1/served/: which model and threshold served customer C at time T (issue 13)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from registry.choices import TokenScope
from registry.models import Deployment
from tests.registry.factories import UserFactory, service_account_with_token
from tests.releases.rings_helpers import config_component, model_component, stack_release
from tests.world import assert_problem, governance_snapshot

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
    (served,) = response.json()["results"]
    assert served["release"]["id"] == release.pk
    threshold = config_component(release)
    (config,) = [c for c in served["release"]["components"] if c["kind"] == "config"]
    assert config["version_id"] == threshold.pk
    assert config["parameters"] == {"decline_above": 0.82}
    later = (now - timedelta(days=1)).isoformat()
    assert client.get("/api/v1/served/", {"customer": "acme", "at": later}).json()["results"] == []


def test_another_teams_deployments_are_not_served_to_a_reader():
    now = timezone.now()
    release = stack_release()
    deploy(release, start=now - timedelta(days=3))
    outsider = reader(stack_release().team)

    response = outsider.get("/api/v1/served/", {"customer": "acme", "at": now.isoformat()})

    assert response.status_code == 200
    assert response.json()["results"] == []


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
        assert len(response.json()["results"]) == n
        counts.append(len(queries))
    assert counts[0] == counts[1]


class Served:
    """A release live for "acme" (and beside it what must not be listed: a window that
    ended, one not yet started, another customer), grown one live deployment at a time."""

    def __init__(self) -> None:
        self.now = timezone.now()
        self.release = stack_release()
        self.client = reader(self.release.team)
        self.at = self.now.isoformat()
        self.live = 0
        deploy(self.release, start=self.now - timedelta(days=9), end=self.now - timedelta(days=1))
        deploy(self.release, start=self.now + timedelta(days=1))
        deploy(self.release, start=self.now - timedelta(days=9), customer="globex")

    def grow(self, to: int) -> None:
        while self.live < to:
            self.live += 1
            # Two deployments share each start: the id breaks the tie.
            deploy(self.release, start=self.now - timedelta(hours=1 + self.live // 2))

    def get(self, params=None, **extra):
        query = {"customer": "acme", "at": self.at, **(params or {}), **extra}
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get("/api/v1/served/", query)
        return response, len(queries)

    def expected_ids(self) -> list[int]:
        live = Deployment.objects.filter(customer_scope="acme", ended_at__isnull=True)
        live = live.filter(started_at__lte=self.now)
        return list(live.order_by("-started_at", "-id").values_list("id", flat=True))


@pytest.fixture
def served():
    return Served()


def _walk(served: Served, first, link: str) -> tuple[list[int], dict]:
    body = first
    ids = []
    while True:
        rows = [row["id"] for row in body["results"]]
        ids.extend(rows if link == "next" else reversed(rows))
        if body[link] is None:
            return ids, body
        response = served.client.get(body[link])
        assert response.status_code == 200, response.content[:300]
        body = response.json()


@pytest.mark.parametrize("page_size", [2, 7])
def test_next_then_previous_walks_every_live_deployment_once_newest_first(served, page_size):
    served.grow(11)

    first, _ = served.get(page_size=page_size)
    forwards, last = _walk(served, first.json(), "next")
    backwards, _ = _walk(served, last, "previous")

    assert forwards == served.expected_ids()
    assert len(forwards) == 11
    assert backwards == forwards[::-1]
    assert set(first.json()) == {"next", "previous", "results"}


def test_a_page_runs_the_same_queries_with_3_or_40_live_deployments(served):
    served.grow(3)
    served.get(page_size=2)  # warms the process's caches
    small_response, small = served.get(page_size=2)
    served.grow(40)

    large_response, large = served.get(page_size=2)
    deep_response, deep = served.get(page_size=2, cursor=_cursor(large_response.json()["next"]))

    assert small_response.status_code == large_response.status_code == 200
    assert deep_response.status_code == 200
    assert len(large_response.json()["results"]) == len(deep_response.json()["results"]) == 2
    assert large == small == deep
    assert "count" not in large_response.json()


def _cursor(link: str) -> str:
    (cursor,) = parse_qs(urlsplit(link).query)["cursor"]
    return cursor


@pytest.mark.parametrize("cursor", ["garbage", "a" * 3000, "eyJzIjoiL2FwaS92MS9zZXJ2ZWQvIn0:1x:x"])
def test_a_cursor_that_is_not_this_lists_own_is_a_400_problem_and_nothing_changes(served, cursor):
    served.grow(3)
    before = governance_snapshot()
    deployments = list(Deployment.objects.order_by("id").values_list("id", "ended_at"))

    response, _ = served.get(cursor=cursor)

    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == ["cursor"]
    assert governance_snapshot() == before
    assert list(Deployment.objects.order_by("id").values_list("id", "ended_at")) == deployments


def test_a_cursor_of_another_list_or_another_question_is_refused(served):
    # Given a cursor of the deployment list (the same order, on the same rows) and one of
    # this list for another moment, another customer and another environment
    served.grow(5)
    deployments = served.client.get(
        "/api/v1/deployments/", {"customer_scope": "acme", "page_size": 2}
    ).json()
    own = _cursor(served.get(page_size=2)[0].json()["next"])
    earlier = (served.now - timedelta(minutes=1)).isoformat()

    # Then each is a 400 problem naming the cursor; the list's own cursor pages on
    refused = [
        served.get(cursor=_cursor(deployments["next"]))[0],
        served.get(cursor=own, at=earlier)[0],
        served.get(cursor=own, customer="globex")[0],
        served.get(cursor=own, environment="prod")[0],
    ]
    for response in refused:
        assert list(assert_problem(response, 400)["errors"]) == ["cursor"]
    assert served.get(cursor=own, page_size=2)[0].status_code == 200


# Index (PostgreSQL plans only).


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans only")
@pytest.mark.parametrize("question", ["served at", "a customer's deployments"])
def test_a_customers_page_walks_the_customer_keyset_index_without_sorting(served, question):
    # Given a customer's live deployments, and a planner told to avoid scanning the table
    from registry.selectors import deployments_visible_to
    from registry.serving import served_deployments

    served.grow(12)
    user = UserFactory(is_superuser=True)
    if question == "served at":
        queryset = served_deployments(user, customer="acme", at=served.now)
    else:
        queryset = deployments_visible_to(user, customer_scope="acme")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")

        # When a page in the keyset order (newest start first, then id) is planned
        plan = queryset[:5].explain()

        cursor.execute("SET LOCAL enable_bitmapscan = on")
        cursor.execute("SET LOCAL enable_seqscan = on")

    # Then PostgreSQL reads the customer's index backwards and stops at the page: no sort
    # of the customer's whole live set before the LIMIT
    assert "Index Scan Backward using deployment_customer_keyset" in plan, plan
    assert "Sort" not in plan, plan


def test_a_page_holds_each_releases_components_as_a_list_not_a_queryset_per_release(served):
    # Given live deployments of a release with a model and a config component
    from registry.serving import SERVED_COMPONENTS, served_deployments

    served.grow(6)
    reader = UserFactory(is_superuser=True)

    # When the deployments serving the customer are read with their releases' components
    with CaptureQueriesContext(connection) as ctx:
        rows = list(served_deployments(reader, customer="acme", at=served.now))
        kinds = [[c.kind for c in getattr(row.release, SERVED_COMPONENTS)] for row in rows]

    # Then three queries (whether the reader is a service account, the page, the
    # components), each release's components a plain list in id order, and no
    # queryset built per release to hold them (Django's cache of ``components``)
    assert len(ctx.captured_queries) == 3
    expected = list(
        served.release.components.filter(model_version__isnull=False)
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == [expected] * 6
    assert all(
        "components" not in getattr(row.release, "_prefetched_objects_cache", {}) for row in rows
    )
