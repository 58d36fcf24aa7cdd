"""The promotion-request list (the approver's and the manager's): rows carry only what
the list shows, and ring requests name their release without a query per row."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from approvals.models import PromotionRequest
from tests.approvals.factories import PromotionRequestFactory, SignOffFactory
from tests.registry.factories import ModelVersionFactory, TeamFactory, UserFactory, approver
from tests.releases.factories import bulk_releases

pytestmark = pytest.mark.django_db
REQUESTS = "/admin/approvals/promotionrequest/"


def ring_requests(team, count: int, *, start: int) -> list[PromotionRequest]:
    """``count`` ring requests of new releases pinning one version (bulk fixtures)."""
    actor = UserFactory()
    pinned = ModelVersionFactory(registered_model__team=team)
    releases = bulk_releases(team, count, actor=actor, pinned=pinned, prefix=f"ring{start}")
    return PromotionRequest.objects.bulk_create(
        PromotionRequestFactory.build(
            version=pinned,
            release=release,
            environment="production",
            target_ring="canary",
            requested_by=actor,
        )
        for release in releases
    )


def listed(client: Client) -> tuple[int, object]:
    client.get(REQUESTS)  # warm the content-type and permission caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(REQUESTS)
    assert response.status_code == 200
    return len(queries), response


def test_ring_requests_name_their_release_in_the_same_queries_at_2_and_20():
    # Given a board member of a team with 2 ring requests, one of them signed once
    team = TeamFactory(slug="assistants")
    first, _ = ring_requests(team, 2, start=0)
    SignOffFactory(request=first, role="platform", signer=UserFactory())
    client = Client()
    client.force_login(approver(team, "platform"))

    # When they open the request list at 2 ring requests and then at 20
    small_count, small = listed(client)
    ring_requests(team, 18, start=1)
    large_count, large = listed(client)

    # Then both cost the same queries, and each row names its release and ring and counts
    # its sign-offs against the policy's required roles
    assert small_count == large_count
    html = large.content.decode()
    assert f"PR-{first.pk}: release {first.release.name} 1.0.0 → canary" in html
    required = sum(first.policy_snapshot["required_roles"].values())
    assert f"1/{required}" in html
    assert (len(small.context["cl"].result_list), len(large.context["cl"].result_list)) == (2, 20)


def test_the_lists_rows_leave_the_policy_snapshot_and_evidence_in_the_database():
    # Given a request on a board member's team
    team = TeamFactory(slug="assistants")
    PromotionRequestFactory(version=ModelVersionFactory(registered_model__team=team))
    client = Client()
    client.force_login(approver(team, "platform"))

    # When they open the request list
    _, response = listed(client)

    # Then its row did not load (nor decode) the JSON documents the list does not show
    (row,) = response.context["cl"].result_list
    assert {"policy_snapshot", "checked_evidence", "reasons"} <= row.get_deferred_fields()
    assert "policy" not in row._state.fields_cache


def test_each_row_counts_its_own_sign_offs_from_one_query_for_the_page():
    # Given three requests of a board member's team with none, one and two sign-offs
    team = TeamFactory(slug="assistants")
    unsigned, once, twice = (
        PromotionRequestFactory(version=ModelVersionFactory(registered_model__team=team))
        for _ in range(3)
    )
    SignOffFactory(request=once, role="platform", signer=UserFactory())
    SignOffFactory(request=twice, role="platform", signer=UserFactory())
    SignOffFactory(request=twice, role="product", signer=UserFactory())
    client = Client()
    client.force_login(approver(team, "platform"))

    # When they open the request list
    client.get(REQUESTS)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(REQUESTS)

    # Then each row counts its own sign-offs, read by one query of the page's requests
    counted = {row.pk: row.signoffs_given for row in response.context["cl"].result_list}
    assert counted == {unsigned.pk: 0, once.pk: 1, twice.pk: 2}
    signoff_queries = [
        q["sql"] for q in queries if q["sql"].startswith('SELECT "approvals_signoff"')
    ]
    assert len(signoff_queries) == 1
    html = response.content.decode()
    required = sum(twice.policy_snapshot["required_roles"].values())
    assert f"2/{required}" in html and f"0/{required}" in html
