"""A registered model by team slug and name, with its team, in one statement written once
per process (``core.rows``): every CI registration names its model this way.

Not filtered by visibility: the caller checks ``allowed(user, Verb.READ, model.team)``, the
rule ``visible_to`` filters with, and answers a hidden model as a missing one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import connection

from core import rows
from registry.models import RegisteredModel, Team


@dataclass(frozen=True)
class _Statement:
    sql: str
    model: rows.Columns
    team: rows.Columns


@functools.cache
def _statement(vendor: str) -> _Statement:
    quote = connection.ops.quote_name
    model = rows.columns(RegisteredModel, "m")
    team = rows.columns(Team, "t", start=model.stop)
    # Identifiers only, from the models' metadata, quoted; slug and name are parameters.
    sql = (
        f"SELECT {', '.join([*model.select, *team.select])}"  # noqa: S608
        f" FROM {rows.table(RegisteredModel, 'm')}"
        f" JOIN {rows.table(Team, 't')}"
        f" ON t.{quote('id')} = {rows.column(RegisteredModel, 'team', 'm')}"
        f" WHERE {rows.column(Team, 'slug', 't')} = %s"
        f" AND {rows.column(RegisteredModel, 'name', 'm')} = %s"
    )
    return _Statement(sql, model, team)


def model_by_name(team_slug: str, name: str) -> RegisteredModel | None:
    """The model ``name`` of the team ``team_slug``, its team attached; None if none."""
    statement = _statement(connection.vendor)
    row = rows.fetch_one(statement.sql, [team_slug, name])
    if row is None:
        return None
    model = statement.model.build(row)
    model.team = statement.team.build(row)
    return model
