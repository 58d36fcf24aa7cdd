"""Shared test wiring: real services when required, trigger-aware flushing, API clients."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.test import TransactionTestCase
from django.utils import timezone
from rest_framework.test import APIClient

from audit.immutability import append_only_tables, install_append_only_triggers
from tests.parallel_workers import database_turn
from tests.world import World, build_world


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("GOVBOARD_REQUIRE_SERVICES") != "1":
        return
    # CI must test against the real PostgreSQL and Redis, never fall back to SQLite.
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit("GOVBOARD_REQUIRE_SERVICES=1 but DATABASE_URL is not PostgreSQL.", returncode=3)
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.exit("GOVBOARD_REQUIRE_SERVICES=1 but REDIS_URL is not set.", returncode=3)
    import redis

    try:
        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.exit(f"Redis at {settings.CELERY_BROKER_URL} is not usable: {exc}", returncode=3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    # Under pytest-xdist, a test opening dozens of connections runs alone (parallel_workers).
    with database_turn(exclusive=item.get_closest_marker("many_connections") is not None):
        yield


# Transactional tests end with a flush (TRUNCATE / DELETE of every table), which the
# append-only triggers rightly refuse. Only the test harness may lift them, only for that
# flush, and they are reinstalled straight after.
_original_fixture_teardown = TransactionTestCase._fixture_teardown


def _drop_append_only_triggers(alias: str) -> None:
    connection = connections[alias]
    with connection.cursor() as cursor:
        for table in append_only_tables():
            if connection.vendor == "postgresql":
                cursor.execute(f'DROP TRIGGER IF EXISTS govboard_append_only_row ON "{table}"')
                cursor.execute(f'DROP TRIGGER IF EXISTS govboard_append_only_truncate ON "{table}"')
            else:
                cursor.execute(f'DROP TRIGGER IF EXISTS "govboard_append_only_update_{table}"')
                cursor.execute(f'DROP TRIGGER IF EXISTS "govboard_append_only_delete_{table}"')


def _fixture_teardown_with_triggers(self: TransactionTestCase) -> None:
    for alias in self._databases_names(include_mirrors=False):
        _drop_append_only_triggers(alias)
    try:
        _original_fixture_teardown(self)
    finally:
        for alias in self._databases_names(include_mirrors=False):
            install_append_only_triggers(using=alias)


TransactionTestCase._fixture_teardown = _fixture_teardown_with_triggers


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def default_policy(db):
    from approvals.models import GovernancePolicy

    return GovernancePolicy.objects.get(is_default=True)


@pytest.fixture
def in_a_day():
    return timezone.now() + timedelta(days=1)


def reseed_governance_policies() -> None:
    """Replay the policy data migrations (a transactional test's flush removed their rows).

    Serialized rollback cannot be used for this: transactional tests that ran earlier
    recreate content types with new ids, and restoring the old ids then collides.
    """
    import importlib

    from django.apps import apps

    from approvals.models import GovernancePolicy

    if GovernancePolicy.objects.exists():
        return
    importlib.import_module("approvals.migrations.0002_default_policy").seed_default_policy(
        apps, None
    )
    importlib.import_module("approvals.migrations.0004_release_runbook_policy").seed(apps, None)
    importlib.import_module("approvals.migrations.0017_release_policies").seed(apps, None)


@pytest.fixture
def seeded_policies(transactional_db):
    reseed_governance_policies()


@pytest.fixture(scope="session", autouse=True)
def _end_stray_sessions_before_teardown(django_db_setup, django_db_blocker):
    """Live-server threads and worker processes may still hold a session on the test
    database at the end of the run; end them so it can be dropped cleanly."""
    yield
    from django.db import connection

    # pytest-django creates no test database for a run without a database test.
    created = connection.settings_dict["NAME"] == connection.creation._get_test_db_name()
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql" and created:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> World:
    """The two-team world, built once per module inside a transaction rolled back at its end.

    Each test still runs in its own savepoint (pytest-django), so a write by one test is
    never seen by the next.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build_world()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)
