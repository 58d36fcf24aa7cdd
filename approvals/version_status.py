"""A version by id with what its representation shows, in one statement written once per
process (``core.rows``): the version status CI reads back after every registration.

The row carries the version's columns of ``VERSION_COLUMNS``, its model's name, kind and
team, the team's slug, the registering user's name, and whether any promotion request
names the version (an ``EXISTS``): CI's read-back right after registering has none, so it
needs no second statement. Visibility is the caller's ``allowed(user, Verb.READ, team)`` on
the row's team, the same rule ``visible_to`` filters with.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection

from approvals.models import PromotionRequest
from core import rows
from registry.models import ModelVersion, RegisteredModel, Team
from registry.representations import VERSION_COLUMNS


@dataclass(frozen=True)
class _Statement:
    sql: str
    version: rows.Columns
    model: rows.Columns
    team: rows.Columns
    registered_by: rows.Columns


def _own_columns(prefix: str = "") -> tuple[str, ...]:
    """The names in ``VERSION_COLUMNS`` under ``prefix`` (``""``: the version's own)."""
    if not prefix:
        return tuple(name for name in VERSION_COLUMNS if "__" not in name)
    return tuple(
        name.removeprefix(prefix)
        for name in VERSION_COLUMNS
        if name.startswith(prefix) and "__" not in name.removeprefix(prefix)
    )


@functools.cache
def _statement(vendor: str) -> _Statement:
    quote = connection.ops.quote_name
    user_model = get_user_model()
    version = rows.columns(ModelVersion, "v", only=_own_columns())
    model = rows.columns(
        RegisteredModel,
        "m",
        start=version.stop,
        only=(*_own_columns("registered_model__"), "team"),
    )
    team = rows.columns(Team, "t", start=model.stop, only=_own_columns("registered_model__team__"))
    registered_by = rows.columns(
        user_model, "u", start=team.stop, only=_own_columns("registered_by__")
    )
    select = [*version.select, *model.select, *team.select, *registered_by.select]
    # Identifiers only, from the models' metadata, quoted; the id is a parameter.
    sql = (
        f"SELECT {', '.join(select)},"  # noqa: S608
        f" EXISTS(SELECT 1 FROM {rows.table(PromotionRequest, 'r')}"
        f" WHERE {rows.column(PromotionRequest, 'version', 'r')} = v.{quote('id')})"
        f" FROM {rows.table(ModelVersion, 'v')}"
        f" JOIN {rows.table(RegisteredModel, 'm')}"
        f" ON m.{quote('id')} = {rows.column(ModelVersion, 'registered_model', 'v')}"
        f" JOIN {rows.table(Team, 't')}"
        f" ON t.{quote('id')} = {rows.column(RegisteredModel, 'team', 'm')}"
        f" JOIN {rows.table(user_model, 'u')}"
        f" ON u.{quote('id')} = {rows.column(ModelVersion, 'registered_by', 'v')}"
        f" WHERE v.{quote('id')} = %s"
    )
    return _Statement(sql, version, model, team, registered_by)


def version_for_status(pk: int) -> tuple[ModelVersion, bool] | None:
    """The version ``pk`` with its model, team and registering user attached, and whether
    any promotion request names it; None when there is no such version. Not filtered by
    visibility: check ``allowed(user, Verb.READ, version.registered_model.team)``."""
    statement = _statement(connection.vendor)
    row: Any = rows.fetch_one(statement.sql, [pk])
    if row is None:
        return None
    version = statement.version.build(row)
    model = statement.model.build(row)
    model.team = statement.team.build(row)
    version.registered_model = model
    version.registered_by = statement.registered_by.build(row)
    return version, bool(row[-1])
