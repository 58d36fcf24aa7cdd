"""The one reader of a moment from text (``core.moments.parse_aware``): what it takes and
every way it refuses, each of which was a 500 somewhere before it was written once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.moments import parse_aware


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-12-03T10:00:00Z", datetime(2026, 12, 3, 10, tzinfo=UTC)),
        ("2026-12-03T12:00:00+02:00", datetime(2026, 12, 3, 10, tzinfo=UTC)),
        ("2026-12-03 10:00:00.5-00:30", datetime(2026, 12, 3, 10, 30, 0, 500000, tzinfo=UTC)),
    ],
)
def test_a_moment_with_a_zone_reads_as_the_same_instant_in_utc(text, moment):
    assert parse_aware(text) == moment
    assert parse_aware(text).tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "yesterday",
        "2026-12-03",  # a date is not a moment
        "2026-12-03T10:00:00",  # naive: what 10:00 meant is a guess
        "2026-02-30T10:00:00Z",  # impossible: parse_datetime raises ValueError
        "0001-01-01T00:30:00+01:00",  # before the calendar's first moment in UTC
        "9999-12-31T23:59:59.999999Z",  # its last microsecond: a half-open end overflows
        20261203,
    ],
)
def test_anything_else_is_none_for_the_caller_to_refuse_in_its_own_words(text):
    assert parse_aware(text) is None
