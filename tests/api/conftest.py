"""Fixtures of the API test bar."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.api.helpers import World, build_world


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
