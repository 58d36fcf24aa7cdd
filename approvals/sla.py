"""Business-day arithmetic for review SLAs (Monday to Friday; public holidays not modelled)."""

from __future__ import annotations

from datetime import datetime, timedelta


def add_business_days(start: datetime, days: int) -> datetime:
    """``start`` plus ``days`` working days; 0 means the same (working) day, end of day.

    A start on a weekend counts from the next Monday. The due moment is the end of the
    due day (23:59:59 in ``start``'s timezone), which is how people read "2 days".
    """
    moment = start
    while moment.weekday() >= 5:
        moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    remaining = days
    while remaining > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            remaining -= 1
    return moment.replace(hour=23, minute=59, second=59, microsecond=0)


def step_due_dates(
    start: datetime, steps: list[dict], *, expedited: bool = False
) -> list[tuple[str, datetime]]:
    """Due date per runbook step, steps running one after another.

    Expedited requests halve every step's SLA (rounded down; 0 stays same day).
    """
    due: list[tuple[str, datetime]] = []
    moment = start
    for step in steps:
        days = int(step.get("sla_business_days", 0))
        if expedited:
            days //= 2
        moment = add_business_days(moment, days)
        due.append((step["key"], moment))
    return due
