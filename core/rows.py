"""Hand-written statements on the hottest paths, written once per process (issue 14).

A CI registration and its read-back ran a dozen ORM querysets; building and compiling
each of them again on every request was a fifth of the server's CPU. The few lookups on
that path are written here instead, from the models' own metadata (table and column
names, quoted), so a renamed field renames the statement, and their rows are turned back
into model instances with ``Model.from_db`` and each field's own database converters: the
instances are the ORM's own, read by the same code as any other.

What a statement may read is still decided by the one rule of ``core.permissions``: these
are lookups by key, and the caller checks ``allowed`` on the row's team before answering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Field, Model


@dataclass(frozen=True)
class Columns:
    """One model's columns in a statement's row: where they are and how they convert."""

    model: type[Model]
    attnames: tuple[str, ...]
    start: int
    converters: tuple[tuple[int, tuple, Any], ...]  # (offset, converters, expression)
    select: tuple[str, ...]  # the select-list entries, "alias"."column"

    @property
    def stop(self) -> int:
        return self.start + len(self.attnames)

    def build(self, row: tuple, db_connection: Any = None) -> Model:
        """The model instance of this part of ``row``, as the ORM would have built it."""
        db_connection = db_connection or connection
        values = list(row[self.start : self.stop])
        for offset, converters, expression in self.converters:
            for convert in converters:
                values[offset] = convert(values[offset], expression, db_connection)
        return self.model.from_db(db_connection.alias, self.attnames, values)


def columns(
    model: type[Model], alias: str, *, start: int = 0, only: tuple[str, ...] | None = None
) -> Columns:
    """``model``'s concrete columns (or the fields named in ``only``, the primary key
    always included) under the table alias ``alias``, at offset ``start`` of the row."""
    quote = connection.ops.quote_name
    fields: list[Field] = list(model._meta.concrete_fields)
    if only is not None:
        wanted = set(only) | {model._meta.pk.name}
        fields = [field for field in fields if field.name in wanted or field.attname in wanted]
    converters = []
    for offset, field in enumerate(fields):
        expression = field.get_col(alias)
        found = tuple(
            connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
        )
        if found:
            converters.append((offset, found, expression))
    return Columns(
        model=model,
        attnames=tuple(field.attname for field in fields),
        start=start,
        converters=tuple(converters),
        select=tuple(f"{quote(alias)}.{quote(field.column)}" for field in fields),
    )


def column(model: type[Model], name: str, alias: str) -> str:
    """``alias``."column" of ``model``'s field ``name``, quoted."""
    quote = connection.ops.quote_name
    return f"{quote(alias)}.{quote(model._meta.get_field(name).column)}"


def table(model: type[Model], alias: str) -> str:
    """``"table" "alias"`` for a FROM or JOIN clause, quoted."""
    quote = connection.ops.quote_name
    return f"{quote(model._meta.db_table)} {quote(alias)}"


def fetch_one(sql: str, params: list[Any]) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
