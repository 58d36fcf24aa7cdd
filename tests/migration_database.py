"""An empty database of a migration test's own, for tests that start from an early schema.

Migrating the test database back past dozens of migrations and forward again costs most of a
minute; migrating a new, empty database forward to the early state costs seconds, and leaves
the test database as every other test expects it. Only PostgreSQL can do this here: the
SQLite test database lives in memory, and closing its connection would lose it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.contenttypes.models import ContentType
from django.db import connections


@contextmanager
def default_connection_on_a_new_database(*, alias: str = "default") -> Iterator[str]:
    """Point ``alias`` at a new, empty PostgreSQL database for the block (its name is
    yielded), then back at the test database; the new one is dropped, pass or fail.

    For transactional tests only (no open transaction may span the switch)."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        raise RuntimeError("a database of the test's own needs PostgreSQL")
    original = connection.settings_dict["NAME"]
    # The test database's name carries pytest-xdist's worker suffix: one per worker.
    scratch = f"{original}_migrating"[:63]
    quoted = connection.ops.quote_name(scratch)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {quoted}")
    connection.close()
    connection.settings_dict["NAME"] = scratch
    # Content type ids are cached per process: those of one database mean nothing in another.
    ContentType.objects.clear_cache()
    try:
        yield scratch
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        ContentType.objects.clear_cache()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
