"""The governance manager's dashboard page (``admin:dashboard``): tiles and server-side
SVG bar charts, each linking to the request list filtered to what it counts.

Charts are drawn here as SVG (no script, nothing fetched): every bar carries its label and
its number as text, so nothing is told by colour alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from approvals import dashboard
from approvals.admin.dashboard_filters import ANY

BAR_HEIGHT = 22
BAR_GAP = 6
LABEL_WIDTH = 190
BAR_AREA = 260
CHART_WIDTH = LABEL_WIDTH + BAR_AREA + 130


@dataclass(frozen=True)
class ChartRow:
    label: str
    value_text: str
    href: str
    y: int
    text_y: int
    width: int


@dataclass(frozen=True)
class Chart:
    title: str
    rows: list[ChartRow]
    height: int
    width: int = CHART_WIDTH
    label_width: int = LABEL_WIDTH

    @property
    def bar_x(self) -> int:
        return self.label_width

    @property
    def empty(self) -> bool:
        return not self.rows


def requests_list_url(**filters: str) -> str:
    """The request changelist with the given list filters applied."""
    base = reverse("admin:approvals_promotionrequest_changelist")
    return f"{base}?{urlencode(filters)}" if filters else base


def bar_chart(
    title: str,
    bars: list[dashboard.Bar],
    *,
    href: Callable[[dashboard.Bar], str],
    value_text: Callable[[dashboard.Bar], str] = lambda bar: str(bar.count),
) -> Chart:
    """Horizontal bars scaled to the largest value, one row per bar."""
    largest = max((bar.value for bar in bars), default=0) or 1
    rows = []
    for index, bar in enumerate(bars):
        y = index * (BAR_HEIGHT + BAR_GAP)
        width = round(BAR_AREA * bar.value / largest) if bar.value else 0
        rows.append(
            ChartRow(
                label=bar.label if len(bar.label) <= 30 else bar.label[:29] + "…",
                value_text=value_text(bar),
                href=href(bar),
                y=y,
                text_y=y + BAR_HEIGHT - 6,
                width=max(width, 2 if bar.value else 0),
            )
        )
    return Chart(title=title, rows=rows, height=max(len(rows) * (BAR_HEIGHT + BAR_GAP), 1))


def _lead_time_text(bar: dashboard.Bar) -> str:
    if not bar.count:
        return "no decisions"
    decisions = "decision" if bar.count == 1 else "decisions"
    return f"{bar.value:.1f} h ({bar.count} {decisions})"


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """The dashboard of the teams the user manages or audits; 403 for anyone else."""
    if not dashboard.may_see_dashboard(request.user):
        raise PermissionDenied("Only governance managers and auditors see the dashboard.")
    now = timezone.now()
    data = dashboard.dashboard_for(request.user, now=now)
    charts = {
        "age": bar_chart(
            "Pending requests by age",
            data.pending_by_age,
            href=lambda bar: requests_list_url(pending=bar.key),
        ),
        "team": bar_chart(
            "Pending requests by team",
            data.pending_by_team,
            href=lambda bar: requests_list_url(pending=ANY, team=bar.key),
        ),
        "rejections": bar_chart(
            f"Top rejection reasons (last {dashboard.RECENT_DAYS} days)",
            data.top_rejection_reasons,
            href=lambda bar: requests_list_url(rejection_reason=bar.key),
        ),
        "failed_checks": bar_chart(
            f"Top failed checks (requests, last {dashboard.RECENT_DAYS} days)",
            data.top_failed_checks,
            href=lambda bar: requests_list_url(failed_check=bar.key),
        ),
        "lead_time": bar_chart(
            "Lead time from request to decision (mean hours, by week of decision)",
            data.lead_time_by_week,
            href=lambda bar: requests_list_url(decided_week=bar.key),
            value_text=_lead_time_text,
        ),
    }
    context = {
        **admin.site.each_context(request),
        "title": "Governance dashboard",
        "dashboard": data,
        "charts": charts,
        "now": now,
        "recent_days": dashboard.RECENT_DAYS,
        "expiring_days": dashboard.EXPIRING_WITHIN_DAYS,
        "links": {
            "pending": requests_list_url(pending=ANY),
            "sla_breaches": requests_list_url(overdue="yes"),
            "expiring": requests_list_url(approval_expires="soon"),
            "caught": requests_list_url(failed_check=ANY),
            "exceptions": requests_list_url(exception="granted"),
        },
    }
    return TemplateResponse(request, "admin/approvals/dashboard.html", context)


admin.site.register_page("dashboard/", dashboard_view, name="dashboard")

__all__ = ["Chart", "bar_chart", "dashboard_view", "requests_list_url"]
