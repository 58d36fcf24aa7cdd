"""Query-parameter reading for every API view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework.request import Request

from core.errors import InvalidInput
from core.moments import parse_aware


def text_query_params(request: Request) -> Any:
    """The query parameters, refusing NUL characters (PostgreSQL text cannot hold them: a
    filter with one was a 500)."""
    params = request.query_params
    for name, values in params.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            raise InvalidInput(f"Query parameter {name!r} contains a NUL character.")
    return params


def aware_datetime_param(value: str | None, name: str) -> datetime | None:
    """The query parameter ``name``: an ISO 8601 datetime with a zone, in UTC; ``None``
    when absent or empty. Anything else (``core.moments.parse_aware``: naive, impossible,
    at the calendar's edge -- each was a 500) is a 400 naming the parameter."""
    if not value:
        return None
    moment = parse_aware(value)
    if moment is None:
        raise InvalidInput(f"{name} must be an ISO 8601 datetime with a time zone.")
    return moment
