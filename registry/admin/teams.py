"""Teams and their roles: granted and revoked only through the audited service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model

from audit.admin_audit import AuditedAdminMixin
from core.admin_actions import ServiceAction, ServiceActionAdminMixin
from core.admin_scoping import TeamScopedAdmin
from core.permissions import Verb, allowed
from core.team_roles import team_role_choices
from registry import services
from registry.models import Team


class TeamRoleForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True, service_account__isnull=True)
    )
    role = forms.ChoiceField(choices=team_role_choices)


def _team_role(grant: bool) -> Any:
    def run(request: Any, team: Team, data: dict[str, Any]) -> None:
        service = services.team_role_grant if grant else services.team_role_revoke
        service(actor=request.user, user=data["user"], permission=data["role"], team=team)

    return run


@admin.register(Team)
class TeamAdmin(AuditedAdminMixin, ServiceActionAdminMixin, TeamScopedAdmin):
    """Teams; their roles (who may sign, manage, register) change only through the audited
    grant/revoke buttons, never guardian's raw object-permission pages."""

    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    service_actions = (
        ServiceAction(
            name="grant_role",
            label="Grant role",
            form_class=TeamRoleForm,
            run=_team_role(grant=True),
            available=lambda request, obj: allowed(request.user, Verb.GRANT_ROLES, obj),
            success_message="Role granted (recorded in the audit trail).",
        ),
        ServiceAction(
            name="revoke_role",
            label="Revoke role",
            form_class=TeamRoleForm,
            run=_team_role(grant=False),
            available=lambda request, obj: allowed(request.user, Verb.GRANT_ROLES, obj),
            success_message="Role revoked (recorded in the audit trail).",
        ),
    )
