"""Issue 14: the CI registration hot path is lean and keeps every guarantee -- revocation
counts from the next request, the throttle counts in Redis on one client per process and
fails open when Redis is down, the history row and the audit event commit (or not) with the
version, and a registration costs a fixed number of SQL statements."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit.models import AuditEvent
from govboard import throttling
from registry import services
from registry.models import ApiToken, IdempotencyKey, ModelVersion
from registry.representations import VersionSerializer, version_representation
from tests.govboard.own_redis import own_redis
from tests.registry.factories import (
    RegisteredModelFactory,
    TeamFactory,
    UserFactory,
    move_account_to_another_team,
    service_account_with_token,
    sha256_of,
)
from tests.world import assert_problem

pytestmark = pytest.mark.django_db

URL = "/api/v1/versions/"


@pytest.fixture
def team():
    team = TeamFactory(slug="assistants")
    RegisteredModelFactory(team=team, name="support-lora")
    return team


@pytest.fixture
def token(team):
    _, raw = service_account_with_token(teams=[team])
    return raw


def client_for(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def payload(number: int = 0) -> dict:
    return {
        "team": "assistants",
        "model": "support-lora",
        "version": f"1.{number}.0",
        "checksum": sha256_of(f"weights-{number}"),
        "storage_uri": f"s3://models/support-lora/1.{number}.0/",
        "license": "apache-2.0",
        "allowed_use_cases": ["support drafting"],
        "prohibited_use_cases": ["medical advice"],
        "risk_rating": "medium",
        "mitigation_controls": ["human review"],
        "source_commit": "a" * 40,
        "dependency_lock_hash": sha256_of("uv.lock"),
        "fine_tune_method": "lora",
        "base_model_reference": "hf://example/base@1",
    }


def register(client: APIClient, number: int) -> int:
    response = client.post(
        URL, payload(number), format="json", HTTP_IDEMPOTENCY_KEY=f"key-{number}"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


# ------------------------------------------------------------------ revocation


def test_a_revoked_token_is_refused_on_the_very_next_request_after_warm_ones(token):
    # Given a token that has just answered several requests (every cache there is is warm)
    client = client_for(token)
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    other_client = client_for(token)
    assert other_client.get(URL).status_code == 200

    # When an administrator revokes it
    services.api_token_revoke(actor=UserFactory(is_superuser=True), token=ApiToken.objects.get())

    # Then the very next request of each client is a 401
    assert_problem(client.get(URL), 401)
    assert_problem(other_client.get(URL), 401)


def test_an_account_disabled_after_warm_requests_is_refused_on_the_next_one(team):
    # Given a service account whose token has answered
    account, raw = service_account_with_token(teams=[team])
    client = client_for(raw)
    assert client.get(URL).status_code == 200

    # When the account is disabled
    services.service_account_update(
        actor=UserFactory(is_superuser=True),
        account=account,
        teams=[team],
        description="",
        is_active=False,
    )

    # Then its token is refused on the next request
    problem = assert_problem(client.get(URL), 401)
    assert problem["detail"] == "The service account is disabled."


def test_a_team_taken_from_the_account_is_out_of_reach_on_the_next_request(team):
    # Given a token that reads a version of its team
    account, raw = service_account_with_token(teams=[team])
    client = client_for(raw)
    version_id = register(client, 1)
    assert client.get(f"{URL}{version_id}/").status_code == 200

    # When the team is taken from its account
    move_account_to_another_team(account)

    # Then the version is a 404 on the next request
    assert_problem(client.get(f"{URL}{version_id}/"), 404)


# ------------------------------------------------------------------ throttle


def redis_cache(location: str) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        }
    }


@pytest.fixture
def three_per_minute():
    throttling._outage.update(down_until=0.0, logged=False)
    with override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"credential": "3/min"},
        }
    ):
        yield
    throttling._outage.update(down_until=0.0, logged=False)


def test_the_throttle_counts_across_requests_in_redis_on_one_client(token, three_per_minute):
    # Given the budgets in a Redis of the test's own, three calls a minute
    with own_redis() as server, override_settings(CACHES=redis_cache(server.url)):
        client = client_for(token)

        # When the token calls four times, from three clients
        statuses = [c.get(URL).status_code for c in (client, client_for(token), client)]
        throttled = client.get(URL)

        # Then the fourth is a 429 with Retry-After, counted by one client for that Redis
        assert statuses == [200, 200, 200]
        assert_problem(throttled, 429)
        assert 1 <= int(throttled["Retry-After"]) <= 60
        assert list(throttling._scripts).count(server.url) == 1
        keys = [
            key.decode() for key in throttling._scripts[server.url].registered_client.scan_iter()
        ]
        prefix = ApiToken.objects.get().prefix
        assert keys == [f"govboard:throttle:credential:token:{prefix}"]


def test_with_redis_down_the_api_answers_and_logs_the_outage_once(token, three_per_minute, caplog):
    # Given the budgets in a Redis of the test's own, which answers at first
    with own_redis() as server, override_settings(CACHES=redis_cache(server.url)):
        client = client_for(token)
        assert client.get(URL).status_code == 200

        # When Redis stops and the token goes on calling, past its budget
        server.stop()
        with caplog.at_level(logging.WARNING, logger="govboard.throttling"):
            statuses = [client.get(URL).status_code for _ in range(6)]

        # Then every call is answered (fail open, no 5xx), and the outage is one log line
        assert statuses == [200] * 6
        warnings = [r for r in caplog.records if r.name == "govboard.throttling"]
        assert len(warnings) == 1
        assert warnings[0].exc_info is None


def test_without_redis_the_budget_is_kept_in_process_memory(token, three_per_minute):
    # Given no Redis for the cache (the embedded setup)
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ):
        cache.clear()
        client = client_for(token)

        # Then the fourth call in the window is still a 429
        assert [client.get(URL).status_code for _ in range(4)] == [200, 200, 200, 429]


# ------------------------------------------------------------------ one transaction


def test_a_registration_writes_its_history_row_and_audit_event_with_the_version(token):
    # When CI registers a version
    version_id = register(client_for(token), 1)

    # Then the version, one history row and one audit event exist
    version = ModelVersion.objects.get(pk=version_id)
    assert version.history.count() == 1
    assert (
        AuditEvent.objects.filter(verb="version.registered", object_id=str(version_id)).count() == 1
    )


def test_when_the_audit_event_fails_the_version_and_its_history_are_not_kept(token, monkeypatch):
    # Given an audit log that fails on the registration's event
    def failing_record(**kwargs):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(services.versions, "record", failing_record)
    client = client_for(token)
    client.raise_request_exception = False
    events = AuditEvent.objects.count()

    # When CI registers a version
    response = client.post(URL, payload(1), format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    # Then it fails whole: no version, no history row, no event, no idempotency key kept
    assert response.status_code == 500
    assert ModelVersion.objects.count() == 0
    assert ModelVersion.history.count() == 0
    assert AuditEvent.objects.count() == events
    assert IdempotencyKey.objects.count() == 0


# ------------------------------------------------------------------ fixed SQL


#: POST (token; the transaction's savepoint in a test, BEGIN in production; model; version,
#: its history; audit event; the idempotency key's claim; release) + GET (token; the
#: version with whether any request names it: none does). The token is one statement on
#: PostgreSQL (its team ids ride along), two elsewhere.
POST_STATEMENTS = 7
GET_STATEMENTS = 1


def token_statements() -> int:
    return 1 if connection.vendor == "postgresql" else 2


@pytest.mark.parametrize("existing", [1, 20])
def test_a_registration_and_its_read_back_cost_a_fixed_number_of_statements(token, existing):
    # Given a model with some versions already
    client = client_for(token)
    for number in range(existing):
        register(client, number)

    # When CI registers one more and reads it back
    with CaptureQueriesContext(connection) as post:
        version_id = register(client, existing)
    with CaptureQueriesContext(connection) as get:
        response = client.get(f"{URL}{version_id}/")

    # Then the statements are as many whatever the data, with no savepoint of its own
    assert response.status_code == 200
    post_statements = POST_STATEMENTS + token_statements()
    get_statements = GET_STATEMENTS + token_statements()
    assert len(post.captured_queries) == post_statements, [q["sql"][:80] for q in post]
    assert len(get.captured_queries) == get_statements, [q["sql"][:80] for q in get]
    savepoints = [q for q in post.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert len(savepoints) == 1  # the test's transaction (BEGIN in production)


def test_the_hand_written_version_representation_equals_the_declared_fields(token):
    # Given a registered version, read as the API reads it
    version_id = register(client_for(token), 1)
    version = ModelVersion.objects.select_related("registered_model__team", "registered_by").get(
        pk=version_id
    )

    # Then the hand-written representation is exactly what the declared fields produce
    declared = super(VersionSerializer, VersionSerializer(version)).to_representation(version)
    assert version_representation(version) == dict(declared)
