"""IDEM-1: one Idempotency-Key, many deliveries — serially and at once — yield one version,
one answer; the key with another payload is a 422; another checksum is a 409, never an
overwrite. Threads use their own database connections, so this needs PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from audit.models import AuditEvent
from registry.models import IdempotencyKey, ModelVersion
from tests.registry.factories import (
    RegisteredModelFactory,
    TeamFactory,
    service_account_with_token,
    sha256_of,
)
from tests.world import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/versions/"
DELIVERIES = 20


@pytest.fixture
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite serialises every writer on one database lock (and the in-memory test "
            "database is shared through one cache), so concurrent deliveries never race: "
            "run with DATABASE_URL=postgres://…"
        )


@pytest.fixture
def token():
    team = TeamFactory(slug="alpha")
    RegisteredModelFactory(team=team, name="support-lora")
    _, raw = service_account_with_token(teams=[team])
    return raw


def payload(**overrides) -> dict:
    return {
        "team": "alpha",
        "model": "support-lora",
        "version": "1.0.0",
        "checksum": sha256_of("weights"),
        "storage_uri": "s3://models/support-lora/1.0.0/",
        **overrides,
    }


def deliver(token: str, body: dict, key: str | None, barrier: threading.Barrier | None = None):
    """One delivery: (status, body or error). In a thread it uses, then closes, its own
    connection."""
    try:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        if barrier is not None:
            barrier.wait(timeout=30)
        response = client.post(URL, body, format="json", **headers)
        return response.status_code, response.json()
    except Exception as exc:  # an error is a result to count, not a crash of the test
        return "error", repr(exc)
    finally:
        if barrier is not None:
            connections.close_all()


def deliver_concurrently(token: str, bodies: list[dict], key: str | None):
    barrier = threading.Barrier(len(bodies))
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        futures = [pool.submit(deliver, token, body, key, barrier) for body in bodies]
        return [future.result(timeout=120) for future in futures]


def test_the_same_registration_delivered_20_times_in_a_row_creates_one_version(token):
    # Given one registration and one Idempotency-Key
    # When it is delivered 20 times, one after another
    results = [deliver(token, payload(), "build-4711") for _ in range(DELIVERIES)]

    # Then every answer is the first one (201, same id), with one row and one event
    statuses = [status for status, _ in results]
    ids = {body["id"] for _, body in results}
    print(f"IDEM-1 serial: {DELIVERIES} deliveries, statuses {sorted(set(statuses))}, ids {ids}")
    assert statuses == [201] * DELIVERIES
    assert len(ids) == 1
    assert ModelVersion.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1
    assert AuditEvent.objects.filter(verb="version.registered").count() == 1


def test_the_same_registration_delivered_20_times_at_once_creates_one_version(
    postgresql_only, token
):
    # Given one registration and one Idempotency-Key
    # When 20 threads deliver it at the same moment, each on its own connection
    results = deliver_concurrently(token, [payload()] * DELIVERIES, "build-4712")

    # Then there are 0 errors, one answer (the same id everywhere), one row, one event
    errors = [body for status, body in results if status not in (200, 201)]
    ids = {body["id"] for status, body in results if status in (200, 201)}
    print(
        f"IDEM-1 concurrent: {DELIVERIES} deliveries, {len(errors)} errors, "
        f"statuses {sorted({status for status, _ in results}, key=str)}, ids {ids}"
    )
    assert errors == []
    assert len(ids) == 1
    assert ModelVersion.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1
    assert AuditEvent.objects.filter(verb="version.registered").count() == 1


def test_the_same_key_with_another_payload_is_a_422_and_changes_nothing(token):
    # Given a registration made with a key
    status, first = deliver(token, payload(), "build-4713")
    assert status == 201

    # When the key is reused for another version
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post(
        URL, payload(version="1.0.1"), format="json", HTTP_IDEMPOTENCY_KEY="build-4713"
    )

    # Then it is a 422 and the only version is the first
    problem = assert_problem(response, 422)
    assert problem["type"].endswith("/idempotency-key-reused")
    assert list(ModelVersion.objects.values_list("id", "version")) == [(first["id"], "1.0.0")]


def test_the_same_version_with_other_checksums_at_once_is_one_201_and_409s_never_an_overwrite(
    postgresql_only, token
):
    # Given 20 registrations of version 1.0.0, each with different bytes, and no key
    bodies = [payload(checksum=sha256_of(f"weights {n}")) for n in range(DELIVERIES)]

    # When they arrive at the same moment
    results = deliver_concurrently(token, bodies, key=None)

    # Then exactly one wins (201), every other is a 409, and the stored checksum is the
    # winner's, untouched by the others
    statuses = sorted(status for status, _ in results)
    print(f"IDEM-1 conflicting checksums: statuses {statuses}")
    assert statuses == [201] + [409] * (DELIVERIES - 1)
    winner = next(body for status, body in results if status == 201)
    stored = ModelVersion.objects.get()
    assert (stored.pk, stored.checksum) == (winner["id"], winner["checksum"])
    assert AuditEvent.objects.filter(verb="version.registered").count() == 1
