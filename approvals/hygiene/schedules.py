"""When the lifecycle jobs run by default: the one source of these defaults.

Migration ``approvals.0013_lifecycle_schedules`` installs each as a django-celery-beat
``PeriodicTask`` (the database scheduler's rows, editable in the admin) unless a task of
that name exists. They are deliberately *not* in ``CELERY_BEAT_SCHEDULE``: the database
scheduler writes that setting over its rows every time beat starts, which would undo
every edit made in the admin.

Plain data (no Django imports), so a migration can read it.
"""

from __future__ import annotations

from typing import Any

HOURLY = {"every": 1, "period": "hours"}

LIFECYCLE_SCHEDULES: dict[str, dict[str, Any]] = {
    # Approvals that ran out: within the hour, as before rules were configurable.
    "expire-approvals": {"task": "approvals.tasks.expire_approvals", "interval": HOURLY},
    "retire-after-grace": {"task": "approvals.tasks.retire_after_grace", "interval": HOURLY},
    # Nightly scans arrive through the night: read them and judge within the hour.
    "lifecycle-vulnerable": {
        "task": "approvals.tasks.lifecycle_vulnerable",
        "interval": HOURLY,
    },
    # People leave and mail bounces at office pace: once a day, before the working day.
    "lifecycle-unowned": {
        "task": "approvals.tasks.lifecycle_unowned",
        "crontab": {"minute": "30", "hour": "4"},
    },
    # Staleness is measured in months: once a day is plenty.
    "lifecycle-stale": {
        "task": "approvals.tasks.lifecycle_stale",
        "crontab": {"minute": "0", "hour": "5"},
    },
    # Reminders count whole days before expiry (30, 7, 1): daily, before the working day.
    # Installed by migration 0015 (added after 0013 ran on existing databases).
    "remind-expiring-approvals": {
        "task": "approvals.tasks.remind_expiring_approvals",
        "crontab": {"minute": "0", "hour": "6"},
    },
    # SLA breaches are due at the end of a business day: escalate within the hour.
    "escalate-overdue-reviews": {
        "task": "approvals.tasks.escalate_overdue_reviews",
        "interval": HOURLY,
    },
}
