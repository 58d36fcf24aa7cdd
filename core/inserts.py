"""One-row INSERTs of append-only rows, compiled once per process (issue 14).

A CI registration appends an audit event, a history row and an idempotency key. Django
compiles each INSERT again on every save (a field placeholder, a quoted column, the
RETURNING clause: about a fifth of a millisecond each). These rows are only ever inserted
-- the database refuses UPDATE and DELETE on the audit log and on history -- so their
statement depends on the model alone: Django's own insert compiler writes it once, from a
template row, and ``insert`` runs it with each row's values prepared by the fields
themselves (``pre_save``, ``get_db_prep_save``), reading back what the database assigns
(the id, ``db_default`` columns) through the fields' converters, as ``Model.save`` does.

What it does not do is send ``pre_save``/``post_save``: governance code keeps no logic in
signals, and the models passed here have no receivers (a test holds that). A row this
cannot write as a cached statement (a primary key already set, an expression as a value,
multi-table inheritance) is saved by ``Model.save(force_insert=True)`` instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Field, Model
from django.db.models.expressions import DatabaseDefault
from django.db.models.sql import InsertQuery


@dataclass(frozen=True)
class _Statement:
    sql: str
    fields: tuple[Field, ...]  # the fields whose values are the statement's parameters
    returning: tuple[Field, ...]
    returning_params: tuple
    converters: tuple[tuple[tuple, Any], ...]  # per returned column: (converters, expression)


def _inserted_fields(model: type[Model]) -> list[Field]:
    meta = model._meta
    return [f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field]


@functools.cache
def _statement(
    model: type[Model], vendor: str, defaults: tuple[bool, ...], conflict: tuple[str, ...] = ()
) -> _Statement:
    """The INSERT of ``model`` where ``defaults`` marks the columns the database fills;
    with ``conflict`` (the fields of a unique constraint) one that inserts nothing, and
    returns no row, when a row with those values exists."""
    fields = _inserted_fields(model)
    # A stand-in row: the raw insert reads only its attributes (no descriptor, no FSM).
    template = SimpleNamespace(
        **{
            field.attname: field.get_default() if default else None
            for field, default in zip(fields, defaults, strict=True)
        }
    )
    query = InsertQuery(model)
    query.insert_values(fields, [template], raw=True)  # raw: the template's values as set
    compiler = query.get_compiler(connection=connection)
    returning = model._meta.db_returning_fields
    compiler.returning_fields = returning
    [(sql, _)] = compiler.as_sql()
    if conflict:
        # Written here, not with Django's ignore_conflicts: that swallows every unique
        # violation (and, on SQLite, check and NOT NULL failures too, INSERT OR IGNORE).
        # Only this constraint's twin is "already there"; anything else still fails.
        columns = ", ".join(
            connection.ops.quote_name(model._meta.get_field(name).column) for name in conflict
        )
        head, returning_sql = sql.rsplit(" RETURNING ", 1)
        sql = f"{head} ON CONFLICT ({columns}) DO NOTHING RETURNING {returning_sql}"
    converters = []
    for field in returning:
        expression = field.get_col(model._meta.db_table)
        converters.append(
            (
                tuple(
                    connection.ops.get_db_converters(expression)
                    + field.get_db_converters(connection)
                ),
                expression,
            )
        )
    return _Statement(
        sql=sql,
        fields=tuple(f for f, default in zip(fields, defaults, strict=True) if not default),
        returning=tuple(returning),
        returning_params=tuple(compiler.returning_params),
        converters=tuple(converters),
    )


def insert(row: Model) -> Model:
    """INSERT ``row`` (new, its primary key unset) as ``row.save(force_insert=True)``
    would, without signals; the database's id and defaults are set on it."""
    # Without a conflict target the cached statement inserts or raises: None is the only
    # other answer, a row it cannot write.
    if _cached_insert(row) is None:
        row.save(force_insert=True)
    return row


def insert_unless_present(row: Model, *, unique: tuple[str, ...]) -> bool:
    """INSERT ``row`` as ``insert`` does unless a row with its values of the ``unique``
    fields (one unique constraint's, in its order) exists: then nothing is written and the
    answer is False. A twin committing concurrently is waited for (PostgreSQL), so False
    means the other row is there for the caller's next statement to read; either way the
    transaction stays usable, with no savepoint. Where no cached statement can be written,
    a savepoint around ``Model.save`` answers the same."""
    inserted = _cached_insert(row, conflict=unique)
    if inserted is not None:
        return inserted
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        if (
            not type(row)
            ._default_manager.filter(
                **{name: getattr(row, row._meta.get_field(name).attname) for name in unique}
            )
            .exists()
        ):
            raise
        return False
    return True


def _cached_insert(row: Model, *, conflict: tuple[str, ...] = ()) -> bool | None:
    """Run the cached INSERT of ``row``: whether a row was inserted, or None where this
    row cannot be written by a cached statement (the caller saves it)."""
    model = type(row)
    meta = model._meta
    if meta.parents or row.pk is not None or not connection.features.can_return_columns_from_insert:
        return None
    fields = _inserted_fields(model)
    values = [field.pre_save(row, add=True) for field in fields]
    if any(
        hasattr(value, "resolve_expression") and not isinstance(value, DatabaseDefault)
        for value in values
    ):
        return None
    defaults = tuple(isinstance(value, DatabaseDefault) for value in values)
    statement = _statement(model, connection.vendor, defaults, conflict)
    params = [
        field.get_db_prep_save(value, connection)
        for field, value, default in zip(fields, values, defaults, strict=True)
        if not default
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [*params, *statement.returning_params])
        returned = connection.ops.fetch_returned_insert_columns(cursor, statement.returning_params)
    if returned is None:  # ON CONFLICT DO NOTHING: the twin is there
        return False
    for field, value, (converters, expression) in zip(
        statement.returning, returned, statement.converters, strict=True
    ):
        for convert in converters:
            value = convert(value, expression, connection)
        setattr(row, field.attname, value)
    row._state.adding = False
    row._state.db = connection.alias
    return True
