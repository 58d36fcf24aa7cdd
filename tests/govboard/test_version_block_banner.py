"""The version page says why a version is blocked (its open request's assessment) and
links to the request; wired in govboard/admin.py since the registry may not read
approvals."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals.choices import RequestState
from approvals.models import PromotionRequest
from tests.approvals.factories import PromotionRequestFactory, request_in_review
from tests.registry.admin.owner_scenario import owner_of
from tests.registry.factories import ModelVersionFactory, TeamFactory

pytestmark = pytest.mark.django_db


def version_page(version) -> str:
    return reverse("admin:registry_modelversion_change", args=[version.pk])


def test_a_version_waiting_for_sign_offs_shows_who_is_missing_and_links_to_its_request(
    client, seeded_policies
):
    # Given a version whose request passed its checks and waits for the board
    request = request_in_review()
    version = request.version
    owner = owner_of(version.registered_model.team)
    client.force_login(owner)

    # When its owner opens the version's page
    response = client.get(version_page(version))

    # Then the banner lists the missing roles and links to the open request
    assert response.status_code == 200
    block = response.context["version_block"]
    assert block["reasons"] == ["awaiting sign-off: platform x1, product x1, security x1"]
    request_url = reverse("admin:approvals_promotionrequest_change", args=[request.pk])
    assert block["request_url"] == request_url
    page = response.content.decode()
    assert 'id="version-blocked"' in page
    assert f'href="{request_url}"' in page
    # And the page links to the version's model card
    assert reverse("admin:model_card", args=[version.pk]) in page


def test_a_version_without_an_open_request_shows_no_banner(client):
    # Given a draft version nobody asked to promote
    version = ModelVersionFactory()
    owner = owner_of(version.registered_model.team)
    client.force_login(owner)

    # When its page is opened
    response = client.get(version_page(version))

    # Then no banner is shown
    assert response.context["version_block"] is None
    assert 'id="version-blocked"' not in response.content.decode()


def test_a_request_closed_since_shows_no_banner(client, seeded_policies):
    # Given a version whose only request was rejected (closed, not waiting on anything)
    request = request_in_review()
    PromotionRequest.objects.filter(pk=request.pk).update(state=RequestState.REJECTED)
    owner = owner_of(request.version.registered_model.team)
    client.force_login(owner)

    # When its page is opened
    response = client.get(version_page(request.version))

    # Then no banner claims it is blocked by that request
    assert response.context["version_block"] is None


def test_the_banner_costs_the_same_queries_however_many_requests_the_version_had(
    client, seeded_policies
):
    # Given a blocked version and its owner, with the page opened once (warm caches)
    request = request_in_review()
    version = request.version
    owner = owner_of(version.registered_model.team)
    client.force_login(owner)
    client.get(version_page(version))

    # When the page is opened, then again after 20 earlier requests were closed
    with CaptureQueriesContext(connection) as one_request:
        client.get(version_page(version))
    PromotionRequestFactory.create_batch(20, version=version, state=RequestState.REJECTED)
    with CaptureQueriesContext(connection) as many_requests:
        response = client.get(version_page(version))

    # Then the banner still names the open request, in the same number of queries
    assert response.context["version_block"]["request_url"].endswith(f"/{request.pk}/change/")
    assert len(one_request) == len(many_requests), [q["sql"] for q in many_requests]


def test_the_version_page_of_another_team_shows_no_banner_or_reasons(client, seeded_policies):
    # Given a blocked version and an owner of another team
    request = request_in_review()
    outsider = owner_of(TeamFactory())
    client.force_login(outsider)

    # When they open the version's page
    response = client.get(version_page(request.version))

    # Then the admin does not show it (nor what blocks it)
    assert response.status_code == 302
    assert "awaiting sign-off" not in client.get(response.url).content.decode()
