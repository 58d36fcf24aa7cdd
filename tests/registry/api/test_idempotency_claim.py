"""Issue 14: an ``Idempotency-Key`` is claimed by the last statement of the change's own
transaction (``INSERT … ON CONFLICT DO NOTHING``), not looked up first. A first delivery
costs that one statement; a retry runs, finds the key claimed, rolls back whole and answers
with the stored response -- also when its own run would now fail."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.models import IdempotencyKey
from tests.approvals.factories import governance_row_counts
from tests.registry.api.test_registration_hot_path import URL, client_for, payload
from tests.registry.factories import (
    RegisteredModelFactory,
    TeamFactory,
    move_account_to_another_team,
    service_account_with_token,
)
from tests.world import assert_problem

pytestmark = pytest.mark.django_db

KEY_TABLE = IdempotencyKey._meta.db_table


@pytest.fixture
def team():
    team = TeamFactory(slug="assistants")
    RegisteredModelFactory(team=team, name="support-lora")
    return team


def deliver(client, number: int = 1, key: str = "build-4712"):
    return client.post(URL, payload(number), format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_first_delivery_claims_its_key_by_one_insert_and_never_looks_it_up(team):
    # Given CI of the team
    _, raw = service_account_with_token(teams=[team])
    client = client_for(raw)

    # When it registers a version with a key for the first time
    with CaptureQueriesContext(connection) as queries:
        response = deliver(client)

    # Then it is a 201 and the key table is touched once, by the claim
    assert response.status_code == 201, response.content
    touching = [q["sql"] for q in queries.captured_queries if KEY_TABLE in q["sql"]]
    assert len(touching) == 1
    assert touching[0].startswith(f'INSERT INTO "{KEY_TABLE}"')
    assert "ON CONFLICT" in touching[0]
    assert IdempotencyKey.objects.get().response_status == 201


def test_a_retry_is_answered_with_the_stored_response_and_keeps_nothing_of_its_own_run(team):
    # Given a delivery that registered a version
    _, raw = service_account_with_token(teams=[team])
    client = client_for(raw)
    first = deliver(client)
    before = governance_row_counts()

    # When the same delivery is retried with its key
    retry = deliver(client)

    # Then the first answer is replayed, marked, and nothing was written
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert retry["Idempotent-Replayed"] == "true"
    assert governance_row_counts() == before
    assert IdempotencyKey.objects.count() == 1


def test_a_retry_whose_run_would_now_fail_still_gets_the_answer_it_was_given(team):
    # Given a delivery that registered a version, then the account lost the model's team
    account, raw = service_account_with_token(teams=[team])
    client = client_for(raw)
    first = deliver(client)
    move_account_to_another_team(account)
    before = governance_row_counts()

    # When the same delivery is retried, and a new one is sent with another key
    retry = deliver(client)
    fresh = deliver(client, number=2, key="build-4713")

    # Then the retry gets its stored answer; the new delivery is refused (a 404: the model
    # is out of reach now); nothing was written
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert_problem(fresh, 404)
    assert governance_row_counts() == before
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["build-4712"]


def test_a_refused_first_delivery_claims_nothing_so_a_corrected_retry_can_succeed(team):
    # Given CI whose first delivery is refused (a malformed checksum)
    _, raw = service_account_with_token(teams=[team])
    client = client_for(raw)
    bad = payload(1) | {"checksum": "not-a-checksum"}
    refused = client.post(URL, bad, format="json", HTTP_IDEMPOTENCY_KEY="build-9")
    assert_problem(refused, 400)
    assert not IdempotencyKey.objects.exists()

    # When it sends the same key again with the payload fixed
    # Then the key was never claimed: it is a 201 now
    assert deliver(client, key="build-9").status_code == 201
