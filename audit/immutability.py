"""Database-level refusal of UPDATE, DELETE and TRUNCATE on append-only tables.

Python-level guards are not enough: ``QuerySet.update()``, bulk writes and raw SQL skip
signals and model methods. Triggers make the database itself refuse, whoever asks.

The set of protected tables is derived, not listed by hand: the audit log, every
django-simple-history table, and every model that declares ``governance_append_only = True``
(sign-offs, decisions). They are (re)installed after every ``migrate``, so a history table
added by a later migration is protected without anyone remembering to add it.
"""

from __future__ import annotations

from django.apps import apps
from django.db import connections
from django.db.models import Model

TRIGGER_FUNCTION = "govboard_refuse_change"

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {TRIGGER_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'govboard: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def is_history_model(model: type[Model]) -> bool:
    # simple-history's generated models carry ``history_id`` and a ``instance_type``.
    return hasattr(model, "instance_type") and model._meta.model_name.startswith("historical")


def is_append_only(model: type[Model]) -> bool:
    return bool(getattr(model, "governance_append_only", False)) or is_history_model(model)


def append_only_tables() -> list[str]:
    tables = {model._meta.db_table for model in apps.get_models() if is_append_only(model)}
    return sorted(tables)


def _postgresql_statements(table: str) -> list[str]:
    quoted = f'"{table}"'
    return [
        f"CREATE OR REPLACE TRIGGER govboard_append_only_row BEFORE UPDATE OR DELETE ON {quoted} "
        f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER_FUNCTION}();",
        f"CREATE OR REPLACE TRIGGER govboard_append_only_truncate BEFORE TRUNCATE ON {quoted} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER_FUNCTION}();",
    ]


def _sqlite_statements(table: str) -> list[str]:
    statements = []
    for operation in ("UPDATE", "DELETE"):
        message = f"govboard: {operation} on {table} is refused: the table is append-only"
        statements.append(
            f'CREATE TRIGGER IF NOT EXISTS "govboard_append_only_{operation.lower()}_{table}" '
            f"BEFORE {operation} ON \"{table}\" BEGIN SELECT RAISE(ABORT, '{message}'); END;"
        )
    return statements


def install_append_only_triggers(using: str = "default") -> list[str]:
    """Create the triggers on every append-only table; safe to run again."""
    connection = connections[using]
    tables = append_only_tables()
    existing = set(connection.introspection.table_names())
    tables = [table for table in tables if table in existing]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
            for table in tables:
                for statement in _postgresql_statements(table):
                    cursor.execute(statement)
        elif connection.vendor == "sqlite":
            for table in tables:
                for statement in _sqlite_statements(table):
                    cursor.execute(statement)
        else:  # pragma: no cover - only PostgreSQL and SQLite are supported
            raise RuntimeError(f"No append-only triggers for database vendor {connection.vendor}")
    return tables


def protected_tables(using: str = "default") -> set[str]:
    """Tables that currently carry the row-level refusal trigger (for tests and health)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname = 'govboard_append_only_row' AND t.tgenabled <> 'D'"
            )
            return {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
            "AND name LIKE 'govboard_append_only_update_%'"
        )
        return {row[0] for row in cursor.fetchall()}
