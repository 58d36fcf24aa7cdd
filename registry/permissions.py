"""Who may do what on which team. The only module that imports ``guardian.shortcuts``.

Rules, made explicit because guardian's defaults are unsafe for governance:
- Signing requires the *object* permission on the team: no global permission, and no
  superuser short-cut (guardian answers True for superusers by default).
- Seeing a team's registry: superusers and holders of the *global* ``view_team_registry``
  permission (auditors, governance managers) see every team; everyone else sees the teams
  where they hold any team permission; a service account sees the teams it belongs to.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from registry.choices import SECURITY_ROLES, ApproverRole
from registry.models import ServiceAccount, Team

TEAM_PERMISSIONS = [
    "registry.view_team_registry",
    "registry.register_versions",
    "registry.manage_governance",
    *(f"registry.sign_as_{role}" for role in ApproverRole.values),
]
GLOBAL_VIEW_PERMISSION = "registry.view_team_registry"


def signing_permission(role: str) -> str:
    return f"registry.sign_as_{role}"


def _service_account_team_ids(user: Any) -> set[int] | None:
    """The team ids of a service-account user, or None for a person.

    Authentication caches them on the user object so a request costs one query, not one
    per check.
    """
    cached = getattr(user, "_govboard_team_ids", None)
    if cached is not None:
        return cached
    try:
        account = user.service_account
    except ServiceAccount.DoesNotExist:
        return None
    team_ids = set(account.teams.values_list("id", flat=True))
    user._govboard_team_ids = team_ids
    return team_ids


def is_service_account(user: Any) -> bool:
    return _service_account_team_ids(user) is not None


def teams_visible_to(user: Any) -> QuerySet[Team]:
    if user is None or isinstance(user, AnonymousUser) or not user.is_active:
        return Team.objects.none()
    team_ids = _service_account_team_ids(user)
    if team_ids is not None:
        return Team.objects.filter(id__in=team_ids)
    if user.is_superuser or user.has_perm(GLOBAL_VIEW_PERMISSION):
        return Team.objects.all()
    return get_objects_for_user(
        user,
        TEAM_PERMISSIONS,
        klass=Team,
        any_perm=True,
        with_superuser=False,
        accept_global_perms=False,
    )


def can_view_team(user: Any, team: Team) -> bool:
    return teams_visible_to(user).filter(pk=team.pk).exists()


def can_register_for_team(user: Any, team: Team) -> bool:
    """Service accounts of the team, or people holding ``register_versions`` on it."""
    if user is None or not user.is_active:
        return False
    team_ids = _service_account_team_ids(user)
    if team_ids is not None:
        return team.pk in team_ids
    return _has_object_permission(user, "registry.register_versions", team)


def can_sign_for_role(user: Any, team: Team, role: str) -> bool:
    """Only an explicit object permission counts: no global grant, no superuser bypass."""
    if user is None or not user.is_active or role not in ApproverRole.values:
        return False
    if _service_account_team_ids(user) is not None:
        return False  # a pipeline never signs
    return _has_object_permission(user, signing_permission(role), team)


def signing_roles_for(user: Any, team: Team) -> list[str]:
    return [role for role in ApproverRole.values if can_sign_for_role(user, team, role)]


def can_triage_findings(user: Any, team: Team) -> bool:
    """The team's security approvers (any security signing role) rate and justify its
    vulnerability findings; like signing, only an explicit object permission counts."""
    return any(can_sign_for_role(user, team, role) for role in SECURITY_ROLES)


def can_manage_team(user: Any, team: Team) -> bool:
    """Governance managers of the team (object permission) may deprecate, retire, expedite."""
    if user is None or not user.is_active or _service_account_team_ids(user) is not None:
        return False
    return _has_object_permission(user, "registry.manage_governance", team)


def _has_object_permission(user: Any, permission: str, team: Team) -> bool:
    return (
        get_objects_for_user(
            user,
            permission,
            klass=Team.objects.filter(pk=team.pk),
            with_superuser=False,
            accept_global_perms=False,
        )
        .only("pk")
        .exists()
    )


def grant_team_permission(user: Any, permission: str, team: Team) -> None:
    """Grant an object permission. Unaudited: people use ``services.team_role_grant``;
    this is the primitive it (and test fixtures) call."""
    assign_perm(permission, user, team)


def revoke_team_permission(user: Any, permission: str, team: Team) -> None:
    remove_perm(permission, user, team)


def holds_team_permission(user: Any, permission: str, team: Team) -> bool:
    return _has_object_permission(user, permission, team)


def teams_with_any(user: Any, permissions: list[str]) -> QuerySet[Team]:
    """Teams on which the user holds at least one of ``permissions`` (object permissions)."""
    if user is None or not user.is_active or _service_account_team_ids(user) is not None:
        return Team.objects.none()
    return get_objects_for_user(
        user,
        permissions,
        klass=Team,
        any_perm=True,
        with_superuser=False,
        accept_global_perms=False,
    )
