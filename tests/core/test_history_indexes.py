"""Issue 14: history tables are indexed for how history is read -- the tracked row's id
(its timeline, ``as_of``), the history row's own id, time and user -- and not again on every
copied column (simple-history indexes each copied foreign key and indexed column, an index
entry per write that no lookup uses)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

from registry.models import ModelVersion

pytestmark = pytest.mark.django_db

#: What history is looked up by (m2m history rows also by the history row they belong to).
READ_BY = {"history_id", "id", "history_date", "history_user", "history", "m2m_history_id"}


def history_models() -> list:
    return [m for m in apps.get_models() if m._meta.model_name.startswith("historical")]


def test_every_history_model_indexes_only_what_history_is_read_by():
    models = history_models()
    assert len(models) > 20
    for model in models:
        indexed = {
            field.name
            for field in model._meta.concrete_fields
            if field.db_index or field.primary_key or field.unique
        }
        assert indexed <= READ_BY, (model.__name__, indexed - READ_BY)
        assert "id" in indexed or "history" in indexed, model.__name__


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL catalog")
def test_the_version_history_table_has_exactly_those_indexes_in_postgresql():
    table = ModelVersion.history.model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_index i"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = %s::regclass",
            [table],
        )
        columns = sorted(row[0] for row in cursor.fetchall())
    assert columns == ["history_date", "history_id", "history_user_id", "id"]
