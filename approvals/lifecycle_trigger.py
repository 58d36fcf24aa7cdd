"""The version and promotion-request lifecycles, enforced by PostgreSQL itself (ADR 0014).

The services move ``state`` only through django-fsm transitions, but ``queryset.update()``,
raw SQL or a shell skip them. A row trigger on each table refuses every change of ``state``
that is not a declared transition, and refuses ``approved`` without a decision record.

The allowed pairs are not written by hand: they are read from the transitions declared on
``ModelVersion`` and ``PromotionRequest`` and installed after every ``migrate`` (like the
append-only triggers of ADR 0004), so adding a transition in Python adds it to the database
on the next migrate. ``govboard_lifecycle_transitions()`` returns the installed set, which a
test compares with the declarations. INSERT is left alone: the services insert only the
initial state, but the test factories build rows in any state on purpose.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models import Model

TRANSITIONS_FUNCTION = "govboard_lifecycle_transitions"
TRIGGER_FUNCTION = "govboard_refuse_undeclared_transition"
TRIGGER = "govboard_lifecycle"
APPROVED = "approved"


def guarded_models() -> list[type[Model]]:
    from approvals.models import PromotionRequest
    from registry.models import ModelVersion

    return [ModelVersion, PromotionRequest]


def declared_transitions(model: type[Model]) -> set[tuple[str, str]]:
    """The (source, target) pairs of the FSM transitions declared on ``model.state``."""
    field = model._meta.get_field("state")
    states = [str(value) for value, _label in field.choices]
    pairs = set()
    for transition in field.get_all_transitions(model):
        target = str(transition.target)
        if transition.source == "*":
            sources = states
        elif transition.source == "+":
            sources = [state for state in states if state != target]
        else:
            sources = [str(transition.source)]
        pairs.update((source, target) for source in sources if source != target)
    return pairs


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _transitions_function_sql() -> str:
    rows = sorted(
        (model._meta.db_table, source, target)
        for model in guarded_models()
        for source, target in declared_transitions(model)
    )
    values = ",\n        ".join(f"({', '.join(_quote(part) for part in row)})" for row in rows)
    # Table names and states come from the models' metadata, never from input.
    return f"""
CREATE OR REPLACE FUNCTION {TRANSITIONS_FUNCTION}()
RETURNS TABLE (table_name text, source text, target text) LANGUAGE sql IMMUTABLE AS $$
    VALUES
        {values}
$$;
"""  # noqa: S608


def _trigger_function_sql() -> str:
    from approvals.models import DecisionRecord, PromotionRequest
    from registry.models import ModelVersion, ReleaseComponent

    requests = PromotionRequest._meta.db_table
    decisions = DecisionRecord._meta.db_table
    versions = ModelVersion._meta.db_table
    components = ReleaseComponent._meta.db_table
    # A request is approved only with its decision record (approve_if_ready writes the
    # record first, in the same transaction); a version only with an approved request
    # for it that has one (the version is approved after its request), or an approved
    # ring request of a release that pins it (ADR 0020: a candidate component is approved
    # by its release's ring request).
    return f"""
CREATE OR REPLACE FUNCTION {TRIGGER_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS NOT DISTINCT FROM OLD.state THEN
        RETURN NEW;
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM {TRANSITIONS_FUNCTION}() allowed
        WHERE allowed.table_name = TG_TABLE_NAME
          AND allowed.source = OLD.state AND allowed.target = NEW.state
    ) THEN
        RAISE EXCEPTION 'govboard: % % -> % on % is not a declared transition',
            TG_TABLE_NAME, OLD.state, NEW.state, NEW.id USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.state = '{APPROVED}' AND TG_TABLE_NAME = '{requests}' AND NOT EXISTS (
        SELECT 1 FROM "{decisions}" record WHERE record.request_id = NEW.id
    ) THEN
        RAISE EXCEPTION 'govboard: request % cannot be approved without a decision record',
            NEW.id USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.state = '{APPROVED}' AND TG_TABLE_NAME = '{versions}' AND NOT EXISTS (
        SELECT 1 FROM "{requests}" request
        JOIN "{decisions}" record ON record.request_id = request.id
        WHERE request.version_id = NEW.id AND request.state = '{APPROVED}'
    ) AND NOT EXISTS (
        SELECT 1 FROM "{requests}" request
        JOIN "{decisions}" record ON record.request_id = request.id
        JOIN "{components}" component ON component.release_id = request.release_id
        WHERE component.model_version_id = NEW.id AND request.state = '{APPROVED}'
    ) THEN
        RAISE EXCEPTION 'govboard: version % cannot be approved without an approved request '
            'and its decision record', NEW.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
"""  # noqa: S608


def install_lifecycle_triggers(using: str = "default") -> list[str]:
    """(Re)create the lifecycle triggers on PostgreSQL; a no-op elsewhere. Idempotent."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    tables = [model._meta.db_table for model in guarded_models()]
    existing = set(connection.introspection.table_names())
    if not all(table in existing for table in tables):
        return []  # migrated back before the tables exist
    with connection.cursor() as cursor:
        cursor.execute(_transitions_function_sql())
        cursor.execute(_trigger_function_sql())
        for table in tables:
            # Every UPDATE, not ``UPDATE OF state``: a column list would make PostgreSQL
            # refuse a later migration that alters the state column's type.
            cursor.execute(
                f'CREATE OR REPLACE TRIGGER {TRIGGER} BEFORE UPDATE ON "{table}" '
                f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER_FUNCTION}()"
            )
    return tables


def installed_transitions(using: str = "default") -> dict[str, set[tuple[str, str]]]:
    """The pairs the database allows now, per table (empty when not installed)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regproc(%s) IS NOT NULL", [TRANSITIONS_FUNCTION])
        if not cursor.fetchone()[0]:
            return {}
        cursor.execute(f"SELECT table_name, source, target FROM {TRANSITIONS_FUNCTION}()")  # noqa: S608
        installed: dict[str, set[tuple[str, str]]] = {}
        for table, source, target in cursor.fetchall():
            installed.setdefault(table, set()).add((source, target))
    return installed


def install_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    install_lifecycle_triggers(using=using)
