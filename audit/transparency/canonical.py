"""The canonical bytes of a sealed row: what a leaf of the transparency log hashes.

``{"columns":{<column>:<value>,...},"pk":"<primary key>","table":"<db table>"}``
as JSON with sorted keys, no whitespace, UTF-8 (not ASCII-escaped), NaN refused. Every
concrete column, by its database column name, as the database returns it: datetimes as
ISO 8601 in UTC with microseconds and a ``Z``, dates and times ISO 8601, decimals and
UUIDs as strings, bytes as base64, JSON columns as their JSON value (keys sorted by the serialiser).
``tools/verify_audit_export.py`` parses and re-serialises the same way, so a canonical
text that is not canonical is caught.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

from django.db.models import Model


def format_timestamp(moment: dt.datetime) -> str:
    """One spelling of an instant: UTC, microseconds, ``Z`` (tree heads use it too)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes have no canonical form")
    # isoformat, not strftime: the same text ("...+00:00" -> "Z"), several times faster.
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")[:-6] + "Z"


_AS_IS = frozenset({str, int, bool, float, type(None)})


def canonical_value(value: Any) -> Any:
    if type(value) in _AS_IS:  # the common case first: verify_audit calls this per column
        return value
    if isinstance(value, dt.datetime):
        return format_timestamp(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (dict, list)):
        # A JSON column's value came out of JSON: nothing in it needs converting, and the
        # serialiser sorts its keys.
        return value
    if isinstance(value, tuple):
        return [canonical_value(item) for item in value]
    return value


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_row(table: str, pk: Any, columns: dict[str, Any]) -> bytes:
    """The canonical bytes of one row, given its primary key and column values."""
    return canonical_json(
        {
            "columns": {name: canonical_value(value) for name, value in columns.items()},
            "pk": str(pk),
            "table": table,
        }
    )


def column_fields(model: type[Model]) -> list[tuple[str, str]]:
    """(column name, attribute name) of every concrete column, in model order."""
    return [(field.column, field.attname) for field in model._meta.concrete_fields]
