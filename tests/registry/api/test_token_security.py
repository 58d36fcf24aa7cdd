"""SEC-2: service tokens are hashed at rest, expire, are revoked at once, refuse malformed
headers with a challenge, sit beside session sign-in, and are throttled per token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditEvent
from core import permissions
from registry import services
from registry.choices import TokenScope
from registry.models import ApiToken
from tests.registry.factories import (
    TeamFactory,
    UserFactory,
    service_account_with_token,
)
from tests.world import assert_problem, governance_snapshot

pytestmark = pytest.mark.django_db

URL = "/api/v1/versions/"
CHALLENGE = 'Bearer realm="govboard"'


@pytest.fixture
def team():
    return TeamFactory(slug="alpha")


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True)


def every_text_value():
    """Every text-like value of every column of every table, as strings."""
    for model in apps.get_models(include_auto_created=True):
        names = [
            field.column and field.attname
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField | models.JSONField)
        ]
        if not names:
            continue
        for row in model._base_manager.values_list(*names):
            for value in row:
                if value is not None:
                    yield model._meta.label, str(value)


def test_a_raw_token_is_stored_nowhere_only_its_hash(team, admin, api_client):
    # Given a token just issued, and used once (so request-time writes happen too)
    account, raw = service_account_with_token(teams=[team], admin=admin)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get(URL).status_code == 200
    secret = raw.split("_", 2)[2]

    # When every text column of every table is dumped
    found = [(label, value) for label, value in every_text_value() if secret in value]

    # Then neither the token nor its secret part appears anywhere, the audit log included
    assert found == []
    assert not AuditEvent.objects.filter(data__icontains=secret).exists()
    token = account.tokens.get()
    assert token.token_hash == services.hash_token(raw)
    assert token.token_hash != raw


def test_a_revoked_token_is_refused_on_the_very_next_request(team, admin, api_client):
    # Given a token that was just used successfully
    account, raw = service_account_with_token(teams=[team], admin=admin)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get(URL).status_code == 200

    # When an administrator revokes it, and the very next request uses it
    services.api_token_revoke(actor=admin, token=account.tokens.get())
    response = api_client.get(URL)

    # Then it is a 401 with a challenge
    problem = assert_problem(response, 401)
    assert problem["detail"] == "The token is revoked or expired."
    assert response["WWW-Authenticate"] == CHALLENGE


def test_an_expired_token_is_refused_on_reads_too(team, admin, api_client):
    # Given a token whose expiry passed a second ago
    account, raw = service_account_with_token(teams=[team], admin=admin)
    ApiToken.objects.filter(service_account=account).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    # When it is used to read
    response = api_client.get(URL)

    # Then it is a 401 with a challenge
    problem = assert_problem(response, 401)
    assert problem["detail"] == "The token is revoked or expired."
    assert response["WWW-Authenticate"] == CHALLENGE


MALFORMED = {
    "unknown-token": "Bearer gbt_00000000_never-issued",
    "wrong-prefix": "Bearer xyz_00000000_secret",
    "no-token": "Bearer",
    "two-tokens": "Bearer gbt_a_b gbt_c_d",
    "non-ascii": "Bearer gbt_0000_s\u00e9cret",
    "too-long": "Bearer gbt_0000_" + "a" * 300,
    "nul-byte": "Bearer gbt_0000_a\x00b",
    "lowercase-scheme-unknown": "bearer gbt_00000000_never-issued",
}


@pytest.mark.parametrize("header", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_or_unknown_authorization_header_is_a_401_problem_with_a_challenge(
    team, api_client, header
):
    # Given an Authorization header that is malformed or names no issued token
    before = governance_snapshot()

    # When it is used
    response = api_client.get(URL, HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))

    # Then it is a 401 problem with a challenge, and nothing changed
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == CHALLENGE
    assert governance_snapshot() == before


def test_a_token_does_not_authenticate_as_a_session_or_the_other_way_round(team, api_client):
    # Given a person with a session and a service account with a token, on the same team
    person = UserFactory()
    permissions.grant_team_role(person, "registry.view_team_registry", team)
    _, raw = service_account_with_token(teams=[team])

    # When each calls the API its own way
    session_client = api_client
    session_client.force_login(person)
    by_session = session_client.get(URL)
    session_client.logout()
    session_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    by_token = session_client.get(URL)

    # Then both work
    assert by_session.status_code == 200
    assert by_token.status_code == 200


def test_a_read_only_token_cannot_write_even_for_its_own_team(team, api_client):
    # Given a read-only token of the team
    _, raw = service_account_with_token(teams=[team], scopes=[TokenScope.READ])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = governance_snapshot()

    # When it tries to register a version
    response = api_client.post(URL, {"team": "alpha"}, format="json")

    # Then it is a 403 before the body is even validated, and nothing changed
    problem = assert_problem(response, 403)
    assert problem["detail"] == "This token's scopes do not allow this action."
    assert governance_snapshot() == before


@pytest.fixture
def three_per_minute():
    """Throttle budget of 3 requests a minute (from the live settings), from a clean cache."""
    rates = {"credential": "3/min"}
    cache.clear()
    with override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": rates,
        }
    ):
        yield
    cache.clear()


def test_the_fourth_call_in_a_minute_is_a_429_for_that_token_only(
    team, api_client, three_per_minute
):
    # Given two tokens of the team, and a budget of three calls a minute
    _, first = service_account_with_token(teams=[team])
    _, second = service_account_with_token(teams=[team])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {first}")

    # When the first token calls four times
    statuses = [api_client.get(URL).status_code for _ in range(4)]
    throttled = api_client.get(URL)

    # Then the fourth (and later) calls are 429 problems with Retry-After
    assert statuses == [200, 200, 200, 429]
    problem = assert_problem(throttled, 429)
    assert problem["title"] == "Too Many Requests"
    assert 1 <= int(throttled["Retry-After"]) <= 60

    # And the other token still has its whole budget
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {second}")
    assert [api_client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
