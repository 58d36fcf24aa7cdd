"""IN-1: schemathesis against the live OpenAPI schema, served in-process, per role.

Every operation is exercised with valid (positive) and invalid (negative) inputs, with a
token of team A holding every scope and, separately, a read-only one. Checks: no server
error, the response matches its documented schema, and its status code is documented.
``GOVBOARD_FUZZ_EXAMPLES=N`` raises the examples per operation and mode (default 3).
"""

from __future__ import annotations

import os
import time

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from govboard.throttling import CredentialRateThrottle
from govboard.wsgi import application

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("GOVBOARD_FUZZ_EXAMPLES", "3"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@pytest.fixture
def in_process(monkeypatch):
    """Serve the API in this thread and transaction, with no throttle in the way.

    The WSGI handler closes "old" connections at each request's start and end; inside the
    test's transaction that would close it, so those receivers are detached meanwhile.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    monkeypatch.setattr(CredentialRateThrottle, "THROTTLE_RATES", {"credential": "1000000/min"})
    cache.clear()
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(world, in_process):
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


def fuzz(api_schema, token: str) -> tuple[int, list[str]]:
    """Run every operation in both modes; returns (cases run, distinct failures)."""
    headers = {"Authorization": f"Bearer {token}"}
    cases = 0
    failures: dict[str, str] = {}

    def record(label: str, mode: GenerationMode, exc: BaseException) -> None:
        for failure in getattr(exc, "exceptions", None) or [exc]:
            title = (str(failure).strip().splitlines() or [""])[0][:200]
            key = f"{label} [{mode.value}] {type(failure).__name__}: {title}"
            failures.setdefault(key, str(exc)[:1500])

    def runner(operation, mode: GenerationMode):
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            nonlocal cases
            cases += 1
            try:
                case.call_and_validate(headers=headers, checks=CHECKS)
            # Collect every distinct failure (schemathesis raises a BaseExceptionGroup), so one
            # run reports them all instead of stopping and shrinking at the first.
            except (Exception, BaseExceptionGroup) as exc:
                record(operation.label, mode, exc)

        return run

    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                runner(operation, mode)()
            except Unsatisfiable:
                # An operation with no inputs (e.g. a bodiless POST action) has no invalid
                # variant to generate; its valid calls ran in the positive mode.
                if mode is GenerationMode.POSITIVE:
                    raise
    return cases, [f"{key}\n{detail}" for key, detail in sorted(failures.items())]


@pytest.mark.parametrize("caller", ["ci_a", "ci_a_read"])
def test_the_api_conforms_to_its_schema_and_never_fails_for_a_token(world, api_schema, caller):
    # Given team A's world and a token (every scope, or read only)
    started = time.monotonic()

    # When schemathesis exercises every operation with generated valid and invalid input
    cases, failures = fuzz(api_schema, world.tokens[caller])

    # Then no response is a server error, breaks its schema, or has an undocumented status
    elapsed = time.monotonic() - started
    print(f"IN-1 {caller}: {cases} cases in {elapsed:.1f}s, {len(failures)} distinct failures")
    assert cases >= EXAMPLES
    assert failures == [], "\n\n".join(failures)
