"""When a version's approval runs out, asked one way: the windows a list can be filtered
by (the version admin's filter, "My models", the manager dashboard) and the words a page
shows ("expires in 5 days")."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from registry.choices import VersionState

#: Filter value -> label, in the order a list offers them.
EXPIRY_WINDOWS: dict[str, str] = {
    "expired": "Expired",
    "7": "Within 7 days",
    "30": "Within 30 days",
    "later": "In more than 30 days",
    "none": "No expiry in force",
}


def approval_expiry_q(window: str, *, now: datetime, prefix: str = "") -> Q:
    """The versions whose approval expiry falls in ``window`` (a key of
    ``EXPIRY_WINDOWS``); ``prefix`` is the path to the version from the filtered model
    (``"version__"``). Only an approved version's expiry is in force (a deprecated or
    retired one keeps the date it had), so the windows are conditions on the index
    (state, approval_expires_at): the state, then a range."""
    expires = f"{prefix}approval_expires_at"
    approved = Q(**{f"{prefix}state": VersionState.APPROVED})
    if window == "expired":
        return approved & Q(**{f"{expires}__lte": now})
    if window in ("7", "30"):
        within = now + timedelta(days=int(window))
        return approved & Q(**{f"{expires}__gt": now, f"{expires}__lte": within})
    if window == "later":
        return approved & Q(**{f"{expires}__gt": now + timedelta(days=30)})
    if window == "none":
        return ~approved | Q(**{f"{expires}__isnull": True})
    raise ValueError(f"Unknown approval expiry window {window!r}.")


def days_until(expires_at: datetime, *, now: datetime) -> int:
    """Whole days from ``now`` to ``expires_at`` (negative once past), counted on the
    calendar of the current time zone so "tomorrow" means tomorrow to the reader."""
    zone = timezone.get_current_timezone()
    return (expires_at.astimezone(zone).date() - now.astimezone(zone).date()).days


def version_expiry_text(state: str, expires_at: datetime | None, *, now: datetime) -> str:
    """What a page says of a version's approval: its expiry while approved, otherwise
    that no approval is in force."""
    if state != VersionState.APPROVED:
        return "no approval in force"
    return expiry_text(expires_at, now=now)


def expiry_text(expires_at: datetime | None, *, now: datetime) -> str:
    """The expiry in words: "expires in 5 days", "expires today", "expired 3 days ago",
    or "no expiry"."""
    if expires_at is None:
        return "no expiry"
    if expires_at <= now:
        days = -days_until(expires_at, now=now)
        if days == 0:
            return "expired today"
        return f"expired {days} day{'s' if days != 1 else ''} ago"
    days = days_until(expires_at, now=now)
    if days == 0:
        return "expires today"
    return f"expires in {days} day{'s' if days != 1 else ''}"
