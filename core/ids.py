"""Object ids as the API accepts them: positive and small enough for a 64-bit key.

A larger number is not a missing object but a database overflow (a 500 on PostgreSQL);
every id in a path, a query parameter or a body goes through one of these.
"""

from __future__ import annotations

from rest_framework import serializers

from core.errors import InvalidInput

MAX_ID = 2**63 - 1


class IdConverter:
    """``<id:pk>`` in URLs: 1 to 18 digits, so an overflowing id never reaches a query."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


def IdField(**kwargs: object) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def parse_id(value: str | None, *, name: str) -> int | None:
    """An optional id from a query parameter; anything else is a clear 400."""
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_ID:
        raise InvalidInput(f"{name} must be a positive integer id.", errors={name: ["invalid"]})
    return int(value)
