"""Query-parameter reading for every API view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework.request import Request

from core.errors import InvalidInput


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
    when absent or empty. Anything else is a 400 naming the parameter: naive (no zone),
    impossible (Feb 30: ``parse_datetime`` raises), or at the calendar's edge, where
    converting the offset to UTC or stepping one microsecond past it (a half-open window's
    end, ``registry.serving``) overflows — each was a 500."""
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
        if parsed is not None and parsed.tzinfo is not None:
            moment = parsed.astimezone(UTC)
            moment + timedelta(microseconds=1)
            return moment
    except (ValueError, OverflowError):
        pass
    raise InvalidInput(f"{name} must be an ISO 8601 datetime with a time zone.")
