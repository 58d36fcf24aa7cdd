"""Which tables the transparency log seals: the audit events and every history table.

Found through the apps registry, never by importing the apps that own them, so a history
table added later is sealed without anyone listing it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from django.apps import apps
from django.db.models import Model, QuerySet

from audit.immutability import is_history_model
from audit.models import AuditEvent
from audit.transparency.canonical import canonical_row, column_fields
from audit.transparency.merkle import leaf_hash


@functools.cache
def sealed_models() -> dict[str, type[Model]]:
    """db table -> model, in the order the seal job walks them (sorted by table)."""
    models = [AuditEvent, *(model for model in apps.get_models() if is_history_model(model))]
    return {model._meta.db_table: model for model in sorted(models, key=lambda m: m._meta.db_table)}


def model_for_table(table: str) -> type[Model] | None:
    return sealed_models().get(table)


def canonical_rows(
    model: type[Model], queryset: QuerySet, *, limit: int | None = None
) -> Iterator[tuple[int, bytes]]:
    """(pk, canonical bytes) of each row of ``queryset`` (over ``model``) as it is now."""
    table = model._meta.db_table
    fields = column_fields(model)
    columns = [column for column, _attname in fields]
    pk_column = model._meta.pk.column
    rows = queryset.values_list(*(attname for _column, attname in fields))
    for row in rows[:limit] if limit is not None else rows:
        values = dict(zip(columns, row, strict=True))
        yield values[pk_column], canonical_row(table, values[pk_column], values)


def current_leaf_hashes(model: type[Model], pks: list[int]) -> dict[int, bytes]:
    """pk -> leaf hash of the given rows as they are now (a missing row is absent)."""
    rows = canonical_rows(model, model._base_manager.filter(pk__in=pks))
    return {pk: leaf_hash(canonical) for pk, canonical in rows}
