"""The request list's filters the dashboard tiles link to: each applies the tile's own
condition from ``approvals.dashboard`` (one answer per question)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin
from django.utils import timezone

from approvals import dashboard
from approvals.choices import CheckName

ANY = "any"


class PendingAgeFilter(admin.SimpleListFilter):
    """Pending requests, of any age or of one age bucket."""

    title = "pending for"
    parameter_name = "pending"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [(ANY, "Any time"), *[(key, label) for key, label, *_ in dashboard.AGE_BUCKETS]]

    def queryset(self, request: Any, queryset: Any) -> Any:
        value = self.value()
        if value == ANY:
            return queryset.filter(dashboard.pending_q())
        if value in {key for key, *_ in dashboard.AGE_BUCKETS}:
            return queryset.filter(dashboard.age_bucket_q(value, timezone.now()))
        return queryset


class ApprovalExpiryFilter(admin.SimpleListFilter):
    title = "approval expires"
    parameter_name = "approval_expires"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("soon", f"Within {dashboard.EXPIRING_WITHIN_DAYS} days")]

    def queryset(self, request: Any, queryset: Any) -> Any:
        if self.value() == "soon":
            return queryset.filter(dashboard.expiring_approval_q(timezone.now()))
        return queryset


class RejectionReasonFilter(admin.SimpleListFilter):
    """Rejected in the last 90 days for one reason (the dashboard's top reasons)."""

    title = f"rejected in the last {dashboard.RECENT_DAYS} days for"
    parameter_name = "rejection_reason"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        # Offered only when asked for (a link from the dashboard): listing the reasons
        # would cost the list page a grouping query on every visit.
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: Any, queryset: Any) -> Any:
        if self.value():
            return queryset.filter(dashboard.rejected_recently_q(timezone.now(), self.value()))
        return queryset


class FailedCheckFilter(admin.SimpleListFilter):
    """Requests of the last 90 days the checks caught failing (any check, or one)."""

    title = f"failed a check (last {dashboard.RECENT_DAYS} days)"
    parameter_name = "failed_check"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [(ANY, "Any check"), *[(name.value, name.value) for name in CheckName]]

    def queryset(self, request: Any, queryset: Any) -> Any:
        value = self.value()
        if value == ANY or value in CheckName.values:
            name = None if value == ANY else value
            return queryset.filter(dashboard.failed_check_q(timezone.now(), name))
        return queryset


class ExceptionGrantedFilter(admin.SimpleListFilter):
    title = f"exception granted (last {dashboard.RECENT_DAYS} days)"
    parameter_name = "exception"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("granted", "Granted")]

    def queryset(self, request: Any, queryset: Any) -> Any:
        if self.value() == "granted":
            return queryset.filter(dashboard.exception_granted_q(timezone.now()))
        return queryset


class DecidedWeekFilter(admin.SimpleListFilter):
    """Approved or rejected in one week (the lead-time chart's bars)."""

    title = "decided in the week of"
    parameter_name = "decided_week"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        start = dashboard.week_start(timezone.now())
        weeks = [start - timedelta(weeks=n) for n in range(dashboard.LEAD_TIME_WEEKS)]
        return [(week.date().isoformat(), week.strftime("%d %b %Y")) for week in weeks]

    def queryset(self, request: Any, queryset: Any) -> Any:
        start = _monday(self.value())
        if start is not None:
            return queryset.filter(dashboard.decided_in_week_q(start))
        return queryset


def _monday(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dashboard.week_start(timezone.make_aware(day) if timezone.is_naive(day) else day)


DASHBOARD_FILTERS = [
    PendingAgeFilter,
    ApprovalExpiryFilter,
    FailedCheckFilter,
    ExceptionGrantedFilter,
    RejectionReasonFilter,
    DecidedWeekFilter,
]
