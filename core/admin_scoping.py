"""The admin's row visibility: every team-scoped changelist filters through the model's
``TeamScopedQuerySet.visible_to`` (``core.querysets``), and its "team" filter offers only
the teams the user may see (a plain related-field filter lists every team to everyone).
Those teams are read once per request (``visible_teams``): a page's filters and its
navigation sidebar ask the same question."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from core.admin_actions import GovernanceHistoryAdmin
from core.permissions import teams_for


def team_filter(lookup: str) -> type[admin.SimpleListFilter]:
    """A "team" list filter on ``lookup`` (the path to the team's slug's owner)."""

    class TeamFilter(admin.SimpleListFilter):
        title = "team"
        parameter_name = "team"

        def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
            return [(team.slug, team.slug) for team in visible_teams(request)]

        def queryset(self, request: Any, queryset: Any) -> Any:
            if self.value():
                return queryset.filter(**{f"{lookup}__slug": self.value()})
            return queryset

    return TeamFilter


class TeamScopedAdminMixin:
    """Changelist, object pages and history limited to the teams the user may see."""

    def get_queryset(self, request: Any) -> Any:
        return super().get_queryset(request).visible_to(request.user)


class TeamScopedAdmin(TeamScopedAdminMixin, GovernanceHistoryAdmin):
    """A history-tracked, team-scoped model's admin."""


def visible_teams(request: Any) -> list[Any]:
    """The teams ``request.user`` may see (``teams_for``), read once per request: kept on
    the request, so a role granted or revoked shows on the next one."""
    teams = request.__dict__.get("_govboard_visible_teams")
    if teams is None:
        teams = request._govboard_visible_teams = list(teams_for(request.user))
    return teams


def sees_any_team(request: Any) -> bool:
    """Whether the user sees at least one team (``visible_teams``: once per request)."""
    return bool(visible_teams(request))
