"""Incidents and monitoring reports in the browser (issue 13): read-only lists and pages.

Incidents are opened, annotated, mitigated and resolved through ``approvals.services.incidents``
(the API and monitoring uploads call it); these pages let a team search them by id, tag or
title prefix, filter by state, severity, source, team and tag, and read an incident's
timeline, breached trigger and retrospective. Neither list is counted (the admin site's rule).
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin
from django.db.models import Prefetch, Q

from approvals.models import Incident, IncidentTag, IncidentTimelineEntry, MonitoringReport
from core.admin_scoping import TeamScopedAdminMixin, sees_any_team, team_filter

# "INC-12", "inc-12" or "12": an incident by its id (the primary key).
INCIDENT_ID = re.compile(r"^(?:inc-)?(\d{1,12})$", re.IGNORECASE)


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        # Whoever sees a team reads its incidents (the queryset is limited to those teams).
        return super().has_view_permission(request, obj) or sees_any_team(request)

    def get_model_perms(self, request):
        # The navigation: the model permission only (no team query on every page).
        return {"view": super().has_view_permission(request)}


class TimelineInline(admin.TabularInline):
    model = IncidentTimelineEntry
    extra = 0
    can_delete = False
    fields = ["at", "author", "text"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")

    def has_view_permission(self, request, obj=None):
        return True  # whoever may open the incident reads its timeline

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(TeamScopedAdminMixin, _ReadOnly):
    list_display = [
        "__str__",
        "team",
        "release",
        "severity",
        "state",
        "source",
        "opened_at",
        "tag_names",
    ]
    list_filter = [
        "state",
        "severity",
        "source",
        team_filter("team"),
        ("tags", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["team", "release"]
    search_fields = ["title"]  # replaced by get_search_results: exact and prefix only
    search_help_text = "An incident id (INC-12), a tag name, or the start of a title."
    ordering = ["-opened_at", "-id"]
    inlines = [TimelineInline]
    fields = [
        "title",
        "team",
        "release",
        "versions",
        "severity",
        "state",
        "source",
        "environment",
        "ring",
        "blocks_promotion",
        "summary",
        "trigger",
        "monitoring_report",
        "contributing_factors",
        "retrospective",
        "tags",
        "opened_by",
        "opened_at",
        "mitigated_at",
        "resolved_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("tags", queryset=IncidentTag.objects.order_by("name")))
        )

    def get_search_results(self, request: Any, queryset: Any, search_term: str):
        """Indexed lookups only: the id, a tag's unique name, or a title prefix."""
        term = search_term.strip()
        if not term:
            return queryset, False
        by_id = INCIDENT_ID.match(term)
        if by_id:
            return queryset.filter(pk=int(by_id.group(1))), False
        matching_tags = IncidentTag.objects.filter(name=term.lower()).values("pk")
        return queryset.filter(Q(tags__in=matching_tags) | Q(title__startswith=term)), True

    @admin.display(description="tags")
    def tag_names(self, obj: Incident) -> str:
        return ", ".join(tag.name for tag in obj.tags.all()) or "—"


@admin.register(MonitoringReport)
class MonitoringReportAdmin(TeamScopedAdminMixin, _ReadOnly):
    list_display = [
        "release",
        "environment",
        "ring",
        "window_end",
        "request_volume",
        "latency_p95_ms",
        "retry_rate",
        "breach_count",
    ]
    list_filter = ["ring", team_filter("release__team")]
    list_select_related = ["release"]
    ordering = ["-window_end", "-id"]

    @admin.display(description="breaches")
    def breach_count(self, obj: MonitoringReport) -> int:
        return len(obj.breaches)
