"""Numbers as people read them: no float noise, no exponent, the precision kept."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.numbers import format_number


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.7799999999999999, "0.78"),
        (0.1 + 0.2, "0.3"),
        (0.85, "0.85"),
        (0.89996, "0.89996"),
        (640, "640"),
        (640.0, "640"),
        (0.000012345, "0.000012345"),
        (1234567.891, "1234568"),
        (-0.5, "-0.5"),
        (0.0, "0"),
        (Decimal("0.9100"), "0.91"),
    ],
)
def test_a_number_is_shown_rounded_to_six_significant_digits_without_noise(value, shown):
    assert format_number(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"), [(None, ""), (True, "True"), ("n/a", "n/a"), (float("nan"), "nan")]
)
def test_what_is_not_a_finite_number_is_shown_as_text(value, shown):
    assert format_number(value) == shown
