"""Promotion requests are scoped, filtered and ordered by their own team (issue 14):
``visible_to``, the sign-off queue, the admin list's team filter and column, and the API's
``?team=`` read ``promotion_request.team_id`` instead of reaching the team through the
version's model. Pages that show a version's columns still join the version for them; the
team never goes through it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from approvals import selectors
from approvals.choices import RequestState
from approvals.models import GovernancePolicy, PromotionRequest
from tests.approvals.factories import PromotionRequestFactory
from tests.registry.factories import TeamFactory, UserFactory, approver

pytestmark = pytest.mark.django_db

OWN_TEAM = '"approvals_promotionrequest"."team_id"'
MODEL_TEAM = '"registry_registeredmodel"."team_id"'


class Teams:
    """Two requests in review on "checkout", one on "vision"; a board member of checkout
    holding every role the default policy asks for."""

    def __init__(self) -> None:
        self.checkout = TeamFactory(slug="checkout")
        self.vision = TeamFactory(slug="vision")
        self.mine = [
            PromotionRequestFactory(
                version__registered_model__team=self.checkout, state=RequestState.IN_REVIEW
            )
            for _ in range(2)
        ]
        self.theirs = PromotionRequestFactory(
            version__registered_model__team=self.vision, state=RequestState.IN_REVIEW
        )
        roles = GovernancePolicy.objects.get(is_default=True).required_roles
        self.board = approver(self.checkout, *roles)


@pytest.fixture
def teams() -> Teams:
    return Teams()


def _ids(rows) -> list[int]:
    return sorted(row.pk for row in rows)


_READS_REQUESTS = 'FROM "approvals_promotionrequest"'


def _list_query(queries: CaptureQueriesContext) -> str:
    """The one query that reads a page of requests (``FROM`` their table, ``LIMIT``)."""
    (sql,) = [
        query["sql"]
        for query in queries.captured_queries
        if _READS_REQUESTS in query["sql"] and "LIMIT" in query["sql"]
    ]
    return sql


def test_the_requests_a_board_member_sees_are_filtered_on_their_own_team_without_versions(
    teams,
):
    visible = PromotionRequest.objects.visible_to(teams.board)

    sql = str(visible.query)
    assert f"{OWN_TEAM} IN (SELECT" in sql
    assert "registry_modelversion" not in sql
    assert _ids(visible) == _ids(teams.mine)


def test_the_sign_off_queue_asks_for_the_signer_s_roles_on_the_request_s_own_team(teams):
    queue = selectors.review_queue_for(teams.board)

    sql = str(queue.query)
    # The version and its model are still joined: the queue's rows show them.
    assert f"{OWN_TEAM} IN (SELECT" in sql
    assert f"{MODEL_TEAM} IN" not in sql
    assert _ids(queue) == _ids(teams.mine)


def _unfiltered_then_filtered(client, url: str, params: dict) -> tuple:
    """``url`` as it is, then with ``params``: each response and its captured queries,
    after one request that warms the process's caches."""
    client.get(url, {"q": "no-such-row"})
    with CaptureQueriesContext(connection) as unfiltered:
        everyone = client.get(url)
    with CaptureQueriesContext(connection) as filtered:
        chosen = client.get(url, params)
    assert everyone.status_code == chosen.status_code == 200
    assert len(filtered) == len(unfiltered)
    return everyone, unfiltered, chosen, filtered


def test_the_admin_list_filters_and_orders_by_the_request_s_own_team(teams):
    browser = Client()
    browser.force_login(UserFactory(is_superuser=True))

    # The team column is the third of list_display (counted from 0): ``o=2`` orders by it.
    everyone, _, checkout, filtered = _unfiltered_then_filtered(
        browser, "/admin/approvals/promotionrequest/", {"team": "checkout", "o": "2"}
    )

    assert _ids(checkout.context["cl"].result_list) == _ids(teams.mine)
    assert len(everyone.context["cl"].result_list) == 3
    reads = [q["sql"] for q in filtered.captured_queries if _READS_REQUESTS in q["sql"]]
    (paging,) = [sql for sql in reads if "LIMIT" in sql]
    # The page's ids: filtered and ordered through one join to the teams, on the request's
    # own column, and no version or model at all.
    assert f'INNER JOIN "registry_team" ON ({OWN_TEAM} = "registry_team"."id")' in paging
    assert "registry_modelversion" not in paging
    assert 'WHERE "registry_team"."slug" = ' in paging
    assert 'ORDER BY "registry_team"."slug" ASC' in paging
    # The rows still join the version and its model for their columns; the team column
    # reads the same join as the filter, never the model's team.
    for sql in reads:
        assert sql.count('JOIN "registry_team"') == 1
        assert MODEL_TEAM not in sql


def test_the_api_s_team_filter_adds_no_join_to_versions_or_models(teams):
    ci = APIClient()
    ci.force_authenticate(UserFactory(is_superuser=True))

    everyone, unfiltered, checkout, filtered = _unfiltered_then_filtered(
        ci, "/api/v1/promotion-requests/", {"team": "checkout"}
    )

    assert sorted(row["id"] for row in checkout.json()["results"]) == _ids(teams.mine)
    assert len(everyone.json()["results"]) == 3
    with_team, without = _list_query(filtered), _list_query(unfiltered)
    # The rows still load their version's model and team (select_related); the filter
    # itself joins the teams once more, on the request's own column, and nothing else.
    for table in ('"registry_modelversion"', '"registry_registeredmodel"'):
        assert with_team.count(table) == without.count(table)
    assert with_team.count('JOIN "registry_team"') == without.count('JOIN "registry_team"') + 1
    assert f'INNER JOIN "registry_team" ON ({OWN_TEAM} = "registry_team"."id")' in with_team
    assert 'WHERE "registry_team"."slug" = ' in with_team
