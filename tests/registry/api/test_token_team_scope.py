"""A token can be limited to some of its service account's teams."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidInput
from registry import services
from registry.choices import TokenScope
from registry.models import ApiToken
from tests.registry.factories import ModelVersionFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    admin = UserFactory(is_superuser=True)
    alpha, beta = TeamFactory(slug="alpha"), TeamFactory(slug="beta")
    account = services.service_account_create(actor=admin, name="ci-both", teams=[alpha, beta])
    return admin, alpha, beta, account


def _issue(admin, account, teams):
    return services.api_token_issue(
        actor=admin,
        service_account=account,
        label="scoped",
        scopes=list(TokenScope.values),
        expires_at=timezone.now() + timedelta(days=1),
        teams=teams,
    )


def test_a_token_limited_to_one_team_sees_only_that_team(setup, api_client):
    # Given an account of teams alpha and beta, and a token limited to alpha
    admin, alpha, beta, account = setup
    mine = ModelVersionFactory(registered_model__team=alpha)
    theirs = ModelVersionFactory(registered_model__team=beta)
    _, raw = _issue(admin, account, [alpha])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    # Then alpha's version is visible, beta's is a 404 and absent from lists
    assert api_client.get(f"/api/v1/versions/{mine.pk}/").status_code == 200
    assert api_client.get(f"/api/v1/versions/{theirs.pk}/").status_code == 404
    listed = {item["id"] for item in api_client.get("/api/v1/versions/").json()["results"]}
    assert listed == {mine.pk}


def test_an_unrestricted_token_sees_all_of_its_account_s_teams(setup, api_client):
    admin, alpha, beta, account = setup
    versions = {ModelVersionFactory(registered_model__team=t).pk for t in (alpha, beta)}
    _, raw = _issue(admin, account, None)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    listed = {item["id"] for item in api_client.get("/api/v1/versions/").json()["results"]}
    assert listed == versions


def test_a_token_cannot_be_limited_to_a_team_outside_its_account(setup):
    admin, alpha, _beta, account = setup
    gamma = TeamFactory(slug="gamma")
    with pytest.raises(InvalidInput, match="teams of its service account"):
        _issue(admin, account, [alpha, gamma])
    assert ApiToken.objects.count() == 0
