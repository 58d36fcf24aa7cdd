"""The audit log in the admin: newest first, filtered by verb, actor, team, model and
date range, searched by model name, each event's object named and linked.

Every filter and the search are conditions on indexed columns (verb, actor, team_id,
occurred_at, and object_type+object_id through subqueries by primary key); nothing
lists the log's distinct values or counts it (``UncountedPaginator``). The model filter
and search need the domain's models, which the log may not name: the roof
(``govboard/admin.py``) sets ``AuditEventAdmin.subject_q``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html

from audit.admin_third_party import register_audited
from audit.history_actors import audit_actors_for
from audit.models import AuditEvent
from audit.subjects import object_links
from audit.verbs import LEGACY_SPELLINGS, AuditVerb
from core.admin_actions import GovernanceHistoryAdmin
from core.admin_filters import TextInputFilter
from core.admin_scoping import visible_teams
from core.pagination import UncountedPaginator, page_number_of
from core.team_roles import team_model

# History rows written without a user show the actor the log names (core imports no app).
GovernanceHistoryAdmin.history_actor_lookup = staticmethod(audit_actors_for)
# People, groups and beat's schedules: their admin pages and actions are audited (AUD-6).
register_audited(admin.site)


class VerbFilter(TextInputFilter):
    """The verbs as written once in ``AuditVerb`` (old spellings included when chosen),
    offered as a list to pick from: there are too many for the sidebar's links."""

    title = "verb"
    inputs = (("verb", "Verb", "select"),)

    def input_choices(self, name: str) -> list[tuple[str, str]]:
        return [(verb.value, verb.value) for verb in AuditVerb]

    def filter_queryset(self, request: Any, queryset: Any, values: dict[str, str]) -> Any:
        verb = AuditVerb.of(values["verb"])
        if verb is None:
            raise IncorrectLookupParameters(f"{values['verb']!r} is not an audit verb.")
        spellings = [verb.value, *(old for old, new in LEGACY_SPELLINGS.items() if new == verb)]
        return queryset.filter(verb__in=spellings)


class TeamFilter(admin.SimpleListFilter):
    """The teams the user may see (events carry the team's id, not a key)."""

    title = "team"
    parameter_name = "team"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(team.pk), team.slug) for team in visible_teams(request)]

    def queryset(self, request: Any, queryset: Any) -> Any:
        value = self.value()
        if not value:
            return queryset
        if not (value.isascii() and value.isdigit() and len(value) < 19):
            raise IncorrectLookupParameters(f"{value!r} is not a team id.")
        return queryset.filter(team_id=int(value))


class ActorFilter(TextInputFilter):
    title = "actor"
    inputs = (("actor", "Username (a person or a CI account)", "text"),)

    def filter_queryset(self, request: Any, queryset: Any, values: dict[str, str]) -> Any:
        return queryset.filter(actor__username=values["actor"])


class ModelFilter(TextInputFilter):
    title = "model"
    inputs = (("model", "Model name, or team/name", "text"),)

    def filter_queryset(self, request: Any, queryset: Any, values: dict[str, str]) -> Any:
        subject_q = self.model_admin.subject_q
        if subject_q is None:
            return queryset
        return queryset.filter(subject_q(request.user, values["model"], prefix=False))


class OccurredFilter(TextInputFilter):
    """A date range in the reader's time zone: from the start of the first day to the
    end of the last."""

    title = "date"
    inputs = (("occurred_from", "From (date)", "date"), ("occurred_until", "Until (date)", "date"))

    def filter_queryset(self, request: Any, queryset: Any, values: dict[str, str]) -> Any:
        if "occurred_from" in values:
            queryset = queryset.filter(occurred_at__gte=_start_of(values["occurred_from"]))
        if "occurred_until" in values:
            end = _start_of(values["occurred_until"]) + timedelta(days=1)
            queryset = queryset.filter(occurred_at__lt=end)
        return queryset


def _start_of(text: str) -> datetime:
    day = parse_date(text) if len(text) <= 10 else None
    if day is None:
        raise IncorrectLookupParameters(f"{text!r} is not a date (YYYY-MM-DD).")
    return timezone.make_aware(datetime.combine(day, time.min))


class AuditChangeList(ChangeList):
    """Names the page's objects after the page is fetched (one query per kind)."""

    def get_results(self, request: Any) -> None:
        super().get_results(request)
        self.result_list = list(self.result_list)
        links = object_links(self.result_list, admin_site=self.model_admin.admin_site)
        # Events keep the team's id (the log names no domain rows); the page names it.
        team_ids = {event.team_id for event in self.result_list if event.team_id is not None}
        teams = dict(team_model().objects.filter(pk__in=team_ids).values_list("pk", "slug"))
        for event in self.result_list:
            event.object_link = links.get((event.object_type, event.object_id))
            event.team_slug = teams.get(event.team_id, "")
        # The paginator knows only whether one more row exists after this page.
        self.previous_page_url = (
            self.get_query_string({"p": self.page_num - 1}) if self.page_num > 1 else None
        )
        has_next = self.result_count > self.page_num * self.list_per_page
        self.next_page_url = self.get_query_string({"p": self.page_num + 1}) if has_next else None


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only in the database as well."""

    list_display = ["id", "occurred_at", "verb", "actor_label", "object_display", "team"]
    list_filter = [VerbFilter, ActorFilter, TeamFilter, ModelFilter, OccurredFilter]
    # Newest first, on the primary key (ids grow with time: the log is append-only).
    ordering = ["-id"]
    sortable_by = ()
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_max_show_all = 0
    search_fields = ["object_id"]  # shows the box; get_search_results says what it does
    search_help_text = (
        "A model's name or its beginning: the events of the model, its versions and "
        "their requests, evidence and deployments."
    )
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    #: (user, term, prefix=) -> the events about the models named ``term``; set by the roof.
    subject_q: Callable[..., Q] | None = None

    def get_queryset(self, request):
        # Events of teams the user may not see stay hidden; team-less events (tokens,
        # accounts) are for administrators and global auditors only (``Verb.READ`` on
        # every team is what shows them: core.permissions.team_q).
        return super().get_queryset(request).visible_to(request.user)

    def get_changelist(self, request, **kwargs):
        return AuditChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return UncountedPaginator(
            queryset,
            per_page,
            page_number=page_number_of(request),
            allow_empty_first_page=allow_empty_first_page,
        )

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term or self.subject_q is None:
            return queryset, False
        return queryset.filter(self.subject_q(request.user, term, prefix=True)), False

    @admin.display(description="team")
    def team(self, obj: AuditEvent) -> str:
        return getattr(obj, "team_slug", "") or (
            "\u2014" if obj.team_id is None else str(obj.team_id)
        )

    @admin.display(description="object")
    def object_display(self, obj: AuditEvent) -> str:
        link = getattr(obj, "object_link", None)
        if link is None:
            return f"{obj.object_type}:{obj.object_id}"
        if link["url"] is None:
            return link["label"]
        return format_html('<a href="{}">{}</a>', link["url"], link["label"])

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
