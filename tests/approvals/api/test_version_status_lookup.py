"""Issue 14: ``GET /api/v1/versions/<id>/`` reads the version with one hand-written
statement (``approvals.version_status``). It must answer exactly what the ORM-built
serializer answers, hide what the caller may not read the same way a list does, and cost
the same statements however many requests, sign-offs or versions there are."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from approvals.api import VersionStatusSerializer
from approvals.choices import RequestState
from approvals.version_status import version_for_status
from registry.models import ModelVersion
from tests.approvals.factories import PromotionRequestFactory, SignOffFactory
from tests.registry.factories import (
    ModelVersionFactory,
    TeamFactory,
    UserFactory,
    approver,
    service_account_with_token,
)

pytestmark = pytest.mark.django_db


def token_client(*teams) -> APIClient:
    _, raw = service_account_with_token(teams=list(teams))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def read_by_the_orm(version_id: int) -> dict:
    """The answer as the declared serializer builds it from ORM-loaded rows."""
    version = (
        ModelVersion.objects.select_related("registered_model__team", "registered_by")
        .prefetch_related("promotion_requests")
        .get(pk=version_id)
    )
    return dict(VersionStatusSerializer(version).data)


def test_a_version_without_requests_reads_as_the_serializer_reads_it():
    # Given a version nobody has asked to promote
    version = ModelVersionFactory(base_model_reference="hf://base@abc", license="apache-2.0")

    # When its team's CI reads it back
    response = token_client(version.registered_model.team).get(f"/api/v1/versions/{version.pk}/")

    # Then the answer is the serializer's, field for field, with no requests
    assert response.status_code == 200
    assert response.json() == read_by_the_orm(version.pk)
    assert response.json()["promotion_requests"] == []


def test_a_version_under_review_reads_with_its_requests_and_sign_offs():
    # Given a version with two requests, one signed off
    version = ModelVersionFactory()
    first = PromotionRequestFactory(version=version, state=RequestState.REJECTED)
    PromotionRequestFactory(version=version)
    SignOffFactory(request=first)

    # When its team's CI reads it
    response = token_client(version.registered_model.team).get(f"/api/v1/versions/{version.pk}/")

    # Then both requests are there, oldest first, exactly as the serializer shows them
    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body["promotion_requests"]] == sorted(
        r["id"] for r in body["promotion_requests"]
    )
    assert len(body["promotion_requests"]) == 2
    assert body == read_by_the_orm(version.pk)


def test_another_teams_version_is_not_found_for_a_token_and_reveals_nothing():
    # Given a version of one team and a token of another
    version = ModelVersionFactory()
    client = token_client(TeamFactory())

    # When the token reads that version, and an id that does not exist
    hidden = client.get(f"/api/v1/versions/{version.pk}/")
    missing = client.get(f"/api/v1/versions/{version.pk + 1000}/")

    # Then both are the same 404 problem: a hidden version looks missing
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_a_person_reads_only_the_versions_of_teams_where_they_hold_a_role():
    # Given a version, an approver of its team and a user of no team
    version = ModelVersionFactory()
    member = approver(version.registered_model.team, "platform")
    stranger = UserFactory()
    url = f"/api/v1/versions/{version.pk}/"

    # When each reads it in a session
    answers = {}
    for who, user in (("member", member), ("stranger", stranger)):
        client = APIClient()
        client.force_authenticate(user)
        answers[who] = client.get(url)

    # Then the member sees it, the stranger gets a 404
    assert answers["member"].status_code == 200
    assert answers["member"].json() == read_by_the_orm(version.pk)
    assert answers["stranger"].status_code == 404


def test_reading_a_version_costs_the_same_statements_however_many_requests_it_has():
    # Given two versions of one team, one with a signed-off request, one with six
    small, large = ModelVersionFactory(), ModelVersionFactory()
    large.registered_model.team = small.registered_model.team
    large.registered_model.save()
    for version, requests in ((small, 1), (large, 6)):
        for _ in range(requests):  # closed ones: a version has one open request at most
            closed = PromotionRequestFactory(version=version, state=RequestState.REJECTED)
            SignOffFactory(request=closed)
    client = token_client(small.registered_model.team)

    # When each is read
    statements = {}
    for version, requests in ((small, 1), (large, 6)):
        with CaptureQueriesContext(connection) as read:
            response = client.get(f"/api/v1/versions/{version.pk}/")
        assert response.status_code == 200
        assert len(response.json()["promotion_requests"]) == requests
        statements[requests] = len(read.captured_queries)

    # Then both cost the same statements, more than the bare read-back's
    assert statements[1] == statements[6]
    assert statements[1] > 1 + (1 if connection.vendor == "postgresql" else 2)


def test_the_lookup_attaches_the_model_team_and_registering_user_without_more_queries():
    # Given a version
    version = ModelVersionFactory()

    # When it is looked up
    with CaptureQueriesContext(connection) as lookup:
        found, has_requests = version_for_status(version.pk)
        names = (
            found.registered_model.name,
            found.registered_model.team.slug,
            found.registered_by.username,
            found.checksum,
        )

    # Then one statement brought all of it
    assert len(lookup.captured_queries) == 1
    assert names == (
        version.registered_model.name,
        version.registered_model.team.slug,
        version.registered_by.username,
        version.checksum,
    )
    assert has_requests is False
    assert version_for_status(version.pk + 1000) is None
