"""Who holds which team role (approver, manager, registrar, viewer): granted and revoked
only here, so every change of who may sign is in the audit trail."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.services import record
from audit.verbs import AuditVerb
from core.errors import InvalidInput, NotPermitted
from registry import permissions
from registry.models import Team


def _check(actor: Any, user: Any, permission: str) -> None:
    if not getattr(actor, "is_superuser", False):
        raise NotPermitted("Only administrators grant or revoke team roles.")
    if permission not in permissions.TEAM_PERMISSIONS:
        raise InvalidInput(f"Unknown team role {permission!r}.")
    if hasattr(user, "service_account"):
        raise InvalidInput("Service accounts get their teams on the account, not roles.")


@transaction.atomic
def team_role_grant(*, actor: Any, user: Any, permission: str, team: Team) -> bool:
    """Give ``user`` the object permission on ``team``; False if they already held it."""
    _check(actor, user, permission)
    if permissions.holds_team_permission(user, permission, team):
        return False
    permissions.grant_team_permission(user, permission, team)
    record(
        actor=actor,
        verb=AuditVerb.TEAM_ROLE_GRANTED,
        target=team,
        team_id=team.pk,
        data={"user": user.get_username(), "permission": permission},
    )
    return True


@transaction.atomic
def team_role_revoke(*, actor: Any, user: Any, permission: str, team: Team) -> bool:
    """Take the object permission away; False if they did not hold it."""
    _check(actor, user, permission)
    if not permissions.holds_team_permission(user, permission, team):
        return False
    permissions.revoke_team_permission(user, permission, team)
    record(
        actor=actor,
        verb=AuditVerb.TEAM_ROLE_REVOKED,
        target=team,
        team_id=team.pk,
        data={"user": user.get_username(), "permission": permission},
    )
    return True
