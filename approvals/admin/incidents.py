"""Incidents and monitoring reports in the browser (issue 13).

The pages let a team search incidents by id, tag or title prefix, filter by state,
severity, source, team and tag, and read an incident's timeline, breached trigger and
retrospective. Neither list is counted (the admin site's rule). The fields stay read-only:
every write is a button on the incident's page (note, edit, mitigate, resolve) that calls
``approvals.services.incidents`` — the path the API and the monitoring uploads take — so
each is permission-checked, locked and audited; a person opens an incident from the
release's page (``registry.admin.releases``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from approvals.choices import OPEN_INCIDENT_STATES, IncidentState
from approvals.forms.incidents import (
    IncidentEditForm,
    IncidentMitigateForm,
    IncidentNoteForm,
    IncidentResolveForm,
)
from approvals.models import Incident, IncidentTimelineEntry, MonitoringReport
from approvals.selectors import INCIDENT_TAGS, incident_tags, incidents_matching
from approvals.services.incidents import (
    incident_mitigate,
    incident_note,
    incident_resolve,
    incident_update,
)
from core.admin_actions import ServiceAction, ServiceActionAdminMixin
from core.admin_scoping import TeamScopedAdminMixin, sees_any_team, team_filter
from core.permissions import Verb, allowed


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


def _works_on(request: Any, incident: Incident, *states: str) -> bool:
    return incident.state in states and allowed(request.user, Verb.MANAGE_INCIDENTS, incident.team)


def _edit_initial(request: Any, incident: Incident) -> dict[str, Any]:
    return {
        "initial": {
            "title": incident.title,
            "severity": incident.severity,
            "summary": incident.summary,
            "tags": " ".join(tag.name for tag in incident.tags.all()),
            "contributing_factors": "\n".join(incident.contributing_factors),
        }
    }


def _subject(incident: Incident) -> list[tuple[str, str]]:
    return [
        ("Incident", str(incident)),
        ("State", incident.get_state_display()),
        ("Severity", incident.get_severity_display()),
    ]


_REFUSAL = "Only the team's registrants and governance managers work on its incidents."
_ALL_STATES = tuple(IncidentState.values)

INCIDENT_ACTIONS = (
    ServiceAction(
        name="note",
        label="Add a timeline note",
        form_class=IncidentNoteForm,
        run=lambda request, incident, data: incident_note(
            actor=request.user, incident=incident, text=data["text"]
        ),
        # A resolved incident still takes follow-up notes (the service allows it).
        available=lambda request, incident: _works_on(request, incident, *_ALL_STATES),
        success_message="Note added to the timeline.",
        refusal=_REFUSAL,
        subject=_subject,
    ),
    ServiceAction(
        name="edit",
        label="Edit title, severity, tags",
        form_class=IncidentEditForm,
        form_kwargs=_edit_initial,
        run=lambda request, incident, data: incident_update(
            actor=request.user, incident=incident, **data
        ),
        available=lambda request, incident: _works_on(request, incident, *OPEN_INCIDENT_STATES),
        success_message="Incident updated.",
        refusal="A resolved incident is closed; only the team's registrants and governance "
        "managers edit an open one.",
        subject=_subject,
    ),
    ServiceAction(
        name="mitigate",
        label="Mark mitigated",
        form_class=IncidentMitigateForm,
        run=lambda request, incident, data: incident_mitigate(
            actor=request.user, incident=incident, text=data["text"]
        ),
        available=lambda request, incident: _works_on(request, incident, IncidentState.OPEN),
        success_message="Incident marked mitigated.",
        refusal="Only an open incident is mitigated, by the team's registrants and governance "
        "managers.",
        subject=_subject,
    ),
    ServiceAction(
        name="resolve",
        label="Resolve",
        form_class=IncidentResolveForm,
        run=lambda request, incident, data: incident_resolve(
            actor=request.user,
            incident=incident,
            retrospective=data["retrospective"],
            contributing_factors=data["contributing_factors"],
        ),
        available=lambda request, incident: _works_on(request, incident, *OPEN_INCIDENT_STATES),
        success_message="Incident resolved.",
        refusal="Only an open or mitigated incident is resolved, by the team's registrants and "
        "governance managers.",
        subject=_subject,
    ),
)


@admin.register(Incident)
class IncidentAdmin(ServiceActionAdminMixin, TeamScopedAdminMixin, _ReadOnly):
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
    service_actions = INCIDENT_ACTIONS
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
        return super().get_queryset(request).prefetch_related(incident_tags())

    def get_search_results(self, request: Any, queryset: Any, search_term: str):
        """Indexed lookups only: the id, a tag's unique name, or a title prefix (the API's
        ``?q=`` too); never a duplicate row."""
        return incidents_matching(queryset, search_term), False

    @admin.display(description="tags")
    def tag_names(self, obj: Incident) -> str:
        return ", ".join(tag.name for tag in getattr(obj, INCIDENT_TAGS)) or "—"


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
