"""Reading a moment from text, written once: every API parameter, upload field, command
option and form bound that takes an ISO 8601 date and time reads it here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils.dateparse import parse_datetime


def parse_aware(text: str | None) -> datetime | None:
    """``text`` as an aware datetime in UTC, or None when it is not one: empty, malformed,
    naive (no zone: what 09:00 meant is a guess), impossible (Feb 30: ``parse_datetime``
    raises), or at the calendar's edge, where converting the offset to UTC or stepping one
    microsecond past it (a half-open window's end) overflows. The caller words the refusal
    for its interface (a problem document, a form error, a command error)."""
    if not text or not isinstance(text, str):
        return None
    try:
        parsed = parse_datetime(text)
        if parsed is None or parsed.tzinfo is None:
            return None
        moment = parsed.astimezone(UTC)
        moment + timedelta(microseconds=1)
    except (ValueError, OverflowError):
        return None
    return moment
