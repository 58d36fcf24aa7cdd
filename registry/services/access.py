"""Who holds which team role (approver, manager, registrar, viewer): granted and revoked
only here, so every change of who may sign is in the audit trail."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.services import record
from audit.verbs import AuditVerb
from core.errors import InvalidInput
from core.permissions import Verb, require
from core.team_roles import grant_team_role, holds_team_role, revoke_team_role, team_roles
from registry.models import Team


def _held(before: bool) -> dict[str, Any]:
    """The event's before/after: whether the user held the role (a grant or revoke flips it)."""
    return {"before": {"holds_role": before}, "after": {"holds_role": not before}}


def _check(actor: Any, user: Any, permission: str, team: Team) -> None:
    require(actor, Verb.GRANT_ROLES, team)
    if permission not in team_roles():
        raise InvalidInput(f"Unknown team role {permission!r}.")
    if hasattr(user, "service_account"):
        raise InvalidInput("Service accounts get their teams on the account, not roles.")


@transaction.atomic
def team_role_grant(*, actor: Any, user: Any, permission: str, team: Team) -> bool:
    """Give ``user`` the object permission on ``team``; False if they already held it."""
    _check(actor, user, permission, team)
    # Held already (directly or through a group): nothing to grant, nothing to record.
    if holds_team_role(user, permission, team) or not grant_team_role(user, permission, team):
        return False
    record(
        actor=actor,
        verb=AuditVerb.TEAM_ROLE_GRANTED,
        target=team,
        team_id=team.pk,
        data={"user": user.get_username(), "permission": permission} | _held(False),
    )
    return True


@transaction.atomic
def team_role_revoke(*, actor: Any, user: Any, permission: str, team: Team) -> bool:
    """Take the object permission away; False if they did not hold it."""
    _check(actor, user, permission, team)
    if not revoke_team_role(user, permission, team):
        return False
    record(
        actor=actor,
        verb=AuditVerb.TEAM_ROLE_REVOKED,
        target=team,
        team_id=team.pk,
        data={"user": user.get_username(), "permission": permission} | _held(True),
    )
    return True
