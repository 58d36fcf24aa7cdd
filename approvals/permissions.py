"""Approval-specific permission reads, batched: one lookup for all of a user's signing
roles on a team instead of one query per role (admin pages, selectors)."""

from __future__ import annotations

from typing import Any

from guardian.core import ObjectPermissionChecker

from registry import permissions
from registry.choices import ApproverRole
from registry.models import Team


def signing_roles_on_team(user: Any, team: Team) -> list[str]:
    """The roles ``user`` holds as explicit object permissions on ``team``.

    Same answer as ``registry.permissions.signing_roles_for``: no superuser short-cut
    (guardian's checker answers "all" for superusers, so they take the strict per-role
    path), no global permission, never a service account.
    """
    if user is None or not user.is_active or permissions.is_service_account(user):
        return []
    if user.is_superuser:
        return permissions.signing_roles_for(user, team)
    held = set(ObjectPermissionChecker(user).get_perms(team))
    return [role for role in ApproverRole.values if f"sign_as_{role}" in held]


def is_team_manager(user: Any, team: Team) -> bool:
    if user is None or not user.is_active or permissions.is_service_account(user):
        return False
    if user.is_superuser:
        return permissions.can_manage_team(user, team)
    return "manage_governance" in set(ObjectPermissionChecker(user).get_perms(team))
