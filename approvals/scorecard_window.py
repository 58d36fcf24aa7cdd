"""The scorecard's window, read from what a person picked or a client sent: one parser for
the admin page's form and the JSON endpoint, so a window means the same in both.

- A preset (``last 30 / 90 / 365 days``) ends at ``now``.
- A bound given as a date (``2026-11-01``) is that day's midnight in the current time
  zone; an end date is inclusive (``window_end=2026-11-30`` ends at the 1st of December's
  midnight), so "from the 1st to the 30th" is the whole month.
- A bound given as a date and time must name its time zone (``2026-11-01T12:00:00Z``).
- The start must be before the end; anything else is refused with the field named.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date

from core.errors import InvalidInput
from core.moments import parse_aware

#: The presets, in days; the page's default and the endpoint's when no bound is given.
PRESET_DAYS = (30, 90, 365)
DEFAULT_DAYS = 90


def parse_bound(text: str, name: str, *, end: bool = False) -> datetime:
    """``text`` (a date, or a date and time with a zone) as an aware datetime; a date as
    ``end`` is the midnight after it. Raises ``InvalidInput`` naming ``name``."""
    value = (text or "").strip()
    try:
        day = parse_date(value)
        if day is not None:
            return _midnight(day + timedelta(days=1) if end else day)
    except (ValueError, OverflowError):  # Feb 30; the day after the calendar's last
        pass
    moment = parse_aware(value)
    if moment is None:
        raise InvalidInput(
            f"{name} must be a date (YYYY-MM-DD) or a date and time with a time zone.",
            errors={name: ["expected YYYY-MM-DD or an ISO 8601 date and time with a zone"]},
        )
    return moment


def _midnight(day: date) -> datetime:
    try:
        return timezone.make_aware(datetime.combine(day, time.min))
    except OverflowError as exc:  # the calendar's last day, as an inclusive end
        raise InvalidInput("The date is out of range.") from exc


def preset_window(days: int, now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(days=days), now


def date_window(first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """From the first day's midnight to the midnight after the last day (both included)."""
    try:
        after_last = last_day + timedelta(days=1)
    except OverflowError as exc:
        raise InvalidInput("The date is out of range.") from exc
    return _midnight(first_day), _midnight(after_last)


def window_from(
    *, start_text: str | None, end_text: str | None, now: datetime
) -> tuple[datetime, datetime]:
    """The window from two optional bounds: none → the default preset; one missing → the
    other defaults (the end to ``now``, the start to ``DEFAULT_DAYS`` before the end)."""
    end = parse_bound(end_text, "window_end", end=True) if end_text else now
    start = (
        parse_bound(start_text, "window_start")
        if start_text
        else end - timedelta(days=DEFAULT_DAYS)
    )
    if start >= end:
        raise InvalidInput(
            "window_start must be before window_end.",
            errors={"window_start": ["must be before window_end"]},
        )
    return start, end


__all__ = [
    "DEFAULT_DAYS",
    "PRESET_DAYS",
    "date_window",
    "parse_bound",
    "preset_window",
    "window_from",
]
