"""JOB-5: startup refuses a Redis that may evict queued tasks, or a visibility timeout
shorter than the longest task, with a message that says what to change."""

from __future__ import annotations

import subprocess

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from govboard.broker_health import probe, refusal
from tests.celery_worker import ROOT, WORKER_COMMAND, worker_env
from tests.govboard.own_redis import own_redis


@pytest.fixture(scope="module")
def evicting_redis():
    with own_redis("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru") as server:
        yield server


def test_a_redis_that_evicts_keys_is_refused_with_a_clear_message(evicting_redis):
    # When the broker is probed
    state = probe(evicting_redis.url)

    # Then it is reachable but refused, naming the policy and the fix
    assert state.reachable
    assert len(state.problems) == 1
    assert "maxmemory-policy 'allkeys-lru'" in state.problems[0]
    assert "maxmemory-policy noeviction" in refusal(state)


def test_the_system_check_fails_on_an_evicting_broker(evicting_redis):
    # Given the application configured with the evicting Redis as its broker
    # When Django's checks run (runserver, migrate and check run them at start)
    with (
        override_settings(CELERY_BROKER_URL=evicting_redis.url),
        pytest.raises(SystemCheckError, match="allkeys-lru"),
    ):
        call_command("check", tags=["broker"])


def test_a_visibility_timeout_shorter_than_the_longest_task_is_refused():
    # Given a Redis that keeps its keys (noeviction) but a visibility timeout of one minute
    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "visibility_timeout": 60}
    with own_redis() as server, override_settings(CELERY_BROKER_TRANSPORT_OPTIONS=options):
        state = probe(server.url)

    # Then it is refused, naming both figures
    assert [p for p in state.problems if "visibility_timeout" in p] == [
        "the broker's visibility_timeout (60 s) is shorter than the longest task time limit "
        f"({settings.CELERY_TASK_TIME_LIMIT} s): a task still running would be delivered "
        "again. Raise CELERY_VISIBILITY_TIMEOUT above the longest CELERY_TASK_TIME_LIMIT."
    ]


def test_the_configured_broker_passes_and_a_broker_that_is_down_is_only_a_warning():
    # The shared test Redis is noeviction with the default visibility timeout
    assert probe(settings.CELERY_BROKER_URL).problems == []
    call_command("check", tags=["broker"])
    # A broker that does not answer is degraded service, not a misconfiguration
    state = probe("redis://127.0.0.1:1/0")
    assert not state.reachable and state.problems == []
    assert refusal(state) is None


def test_a_worker_refuses_to_start_on_an_evicting_broker(evicting_redis):
    # When a Celery worker starts with the evicting Redis as its broker
    env = worker_env(broker_url=evicting_redis.url, REDIS_URL="")
    result = subprocess.run(
        WORKER_COMMAND, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    # Then it exits without consuming anything, saying why
    assert result.returncode != 0
    assert "Refusing to start" in result.stdout + result.stderr
    assert "allkeys-lru" in result.stdout + result.stderr
