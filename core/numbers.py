"""How numbers are shown to people: one helper for every page and message.

Metrics arrive as binary floats, so ``0.78`` computed somewhere may print as
``0.7799999999999999``. Shown values are rounded to six significant digits (far more than
any evaluation is precise to, far fewer than the float noise) and written without an
exponent or trailing zeros, so a value and its limit read the way the policy wrote them.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

SIGNIFICANT_DIGITS = 6


def format_number(value: Any, *, significant: int = SIGNIFICANT_DIGITS) -> str:
    """``value`` as people read it: ``0.7799999999999999`` → ``0.78``, ``640`` → ``640``,
    ``0.000012345`` → ``0.000012345``; anything not a finite number is shown as text
    (``None`` as an empty string)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, int):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return str(value)
    if number == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(number)))
    decimals = max(significant - 1 - magnitude, 0)
    text = f"{number:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


__all__ = ["SIGNIFICANT_DIGITS", "format_number"]
