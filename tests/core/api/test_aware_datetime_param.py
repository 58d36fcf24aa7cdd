"""core.api.params.aware_datetime_param: the one reader of a datetime query parameter
(the deployment list's from/until, served-at's at)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.api.params import aware_datetime_param
from core.errors import InvalidInput


@pytest.mark.parametrize("value", [None, ""])
def test_an_absent_or_empty_parameter_is_none(value):
    assert aware_datetime_param(value, "from") is None


def test_a_moment_with_an_offset_is_the_same_moment_in_utc():
    moment = aware_datetime_param("2026-11-01T02:30:00+02:00", "at")

    assert moment == datetime(2026, 11, 1, 0, 30, tzinfo=UTC)
    assert moment.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-01T00:00:00",  # naive: no zone
        "2026-02-30T00:00:00+00:00",  # impossible: parse_datetime raises
        "yesterday",
        "9999-12-31T23:59:59-23:59",  # past the calendar's end once in UTC
        "0001-01-01T00:00:00+23:59",  # before its start once in UTC
        "9999-12-31T23:59:59.999999+00:00",  # no microsecond after it
    ],
)
def test_anything_else_is_a_400_naming_the_parameter(value):
    with pytest.raises(InvalidInput, match=r"^until must be an ISO 8601 datetime with a time zone"):
        aware_datetime_param(value, "until")
