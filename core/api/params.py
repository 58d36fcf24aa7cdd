"""Query-parameter reading for every API view."""

from __future__ import annotations

from typing import Any

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
