"""The SSO login (user, identity, role and group sync) and the group mappings. Each is one
transaction with its audit events.

Team roles change only through ``registry.services.team_role_grant``/``team_role_revoke``,
so a role given by the mapping is audited exactly like one an administrator gives. Those
services let only administrators act; the mapping acts as ``SYSTEM``, a stand-in with the
administrator flag and no database row (its events read ``user:system:sso``, which no real
username can be: usernames cannot contain ":"). Each of its changes has a second event,
``sso.role_granted``/``sso.role_revoked``, that names the IdP group as the reason.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from approvals.apps import BOARD_GROUP, MANAGER_GROUP
from audit.services import record
from audit.verbs import AuditVerb
from core.errors import InvalidInput, NotPermitted
from core.permissions import Verb, require
from core.team_roles import MANAGE, holds_team_role, role_permission, team_roles
from registry import services as registry_services
from registry.models import Team
from sso.conf import SYSTEM_ACTOR_LABEL
from sso.models import (
    GroupRoleMapping,
    SsoGroupMembership,
    SsoIdentity,
    SsoRoleGrant,
)

logger = logging.getLogger(__name__)
User = get_user_model()


@dataclass(frozen=True)
class _SystemActor:
    """The group mapping acting through the team role services (see the module docstring)."""

    pk: None = None
    is_superuser: bool = True
    is_active: bool = True
    is_authenticated: bool = True

    def get_username(self) -> str:
        return SYSTEM_ACTOR_LABEL


SYSTEM = _SystemActor()

#: Which team permissions put a user into which Django group (approvals migration 0006).
ROLE_GROUP_RULES = {
    BOARD_GROUP: lambda permission: permission.startswith(role_permission("")),
    MANAGER_GROUP: lambda permission: permission == MANAGE,
}

_USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


def _require_administrator(actor: Any) -> None:
    # A person (not the mapping's own stand-in actor) who may grant roles.
    if getattr(actor, "pk", None) is None:
        raise NotPermitted("Only administrators change single sign-on settings.")
    require(actor, Verb.GRANT_ROLES, refusal="Only administrators change single sign-on settings.")


def _claimed_groups(claims: dict[str, Any], claim: str) -> list[str]:
    """The IdP groups in ``claims``: a list of names (anything else counts as none)."""
    value = claims.get(claim, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return sorted({item for item in value if isinstance(item, str) and item})


def _new_username(claims: dict[str, Any], subject: str) -> str:
    """The IdP's ``preferred_username`` when it is free and valid, else one made unique with
    a digest of the subject. Never an existing account: SSO does not adopt local users."""
    base = _USERNAME_UNSAFE.sub("", str(claims.get("preferred_username") or ""))[:120]
    if not base:
        base = _USERNAME_UNSAFE.sub("", str(claims.get("email") or "").split("@")[0])[:120]
    base = base or "sso"
    if not User.objects.filter(username__iexact=base).exists():
        return base
    digest = hashlib.sha256(subject.encode()).hexdigest()[:10]
    return f"{base}-{digest}"


@transaction.atomic
def sso_login(*, issuer: str, claims: dict[str, Any], groups_claim: str) -> Any:
    """An identity provider vouched for ``claims`` (verified ID token + userinfo): find or
    create the user bound to (``issuer``, ``sub``), bring their team roles and role groups
    in line with their IdP groups, and audit the login. None for a deactivated user
    (nothing is changed then).

    A new user gets an unusable password (they cannot sign in or sign off with one), staff
    status (the admin is govboard's interface; it shows only what their roles allow) and
    never superuser status.
    """
    subject = str(claims["sub"])
    identity = (
        SsoIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    created = identity is None
    if identity is None:
        user = User(username=_new_username(claims, subject), is_staff=True)
        user.set_unusable_password()
        _copy_profile(user, claims)
        user.save()
        identity = SsoIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    else:
        user = identity.user
        if not user.is_active:
            return None
        if _copy_profile(user, claims):
            user.save(update_fields=["email", "first_name", "last_name"])
    groups = _claimed_groups(claims, groups_claim)
    if identity.groups != groups:
        identity.groups = groups
        identity.save(update_fields=["groups"])
    changes = _sync_roles(user, groups)
    record(
        actor=user,
        verb=AuditVerb.AUTH_SSO_LOGIN,
        target=identity,
        data={
            "user": user.get_username(),
            "issuer": issuer,
            "subject": subject,
            "groups": groups,
            "user_created": created,
            **changes,
        },
    )
    return user


def _copy_profile(user: Any, claims: dict[str, Any]) -> bool:
    """Copy e-mail and names from the claims; True if anything changed."""
    values = {
        "email": str(claims.get("email") or "")[:254],
        "first_name": str(claims.get("given_name") or "")[:150],
        "last_name": str(claims.get("family_name") or "")[:150],
    }
    changed = False
    for field, value in values.items():
        if value and getattr(user, field) != value:
            setattr(user, field, value)
            changed = True
    return changed


def _sync_roles(user: Any, groups: list[str]) -> dict[str, list[str]]:
    """Make the user's mapping-made roles and role groups exactly what ``groups`` imply.

    Runs inside the caller's transaction. A role the user holds without an ``SsoRoleGrant``
    is a manual grant: left alone, never recorded as SSO's. A recorded grant an
    administrator revoked by hand is granted again while the group still maps to it.
    """
    wanted: dict[tuple[int, str], tuple[Team, str]] = {}
    mappings = (
        GroupRoleMapping.objects.filter(idp_group__in=groups)
        .select_related("team")
        .order_by("idp_group", "pk")
    )
    for mapping in mappings:
        wanted.setdefault((mapping.team_id, mapping.permission), (mapping.team, mapping.idp_group))
    recorded = {
        (grant.team_id, grant.permission): grant
        for grant in SsoRoleGrant.objects.select_for_update()
        .filter(user=user)
        .select_related("team")
    }
    granted: list[str] = []
    revoked: list[str] = []
    for key, (team, idp_group) in wanted.items():
        permission = key[1]
        grant = recorded.get(key)
        holds = holds_team_role(user, permission, team)
        if grant is None and holds:
            continue  # a manual grant: SSO neither records nor removes it
        if grant is None:
            SsoRoleGrant.objects.create(
                user=user, team=team, permission=permission, idp_group=idp_group
            )
        elif grant.idp_group != idp_group:
            grant.idp_group = idp_group
            grant.save(update_fields=["idp_group"])
        if not holds:
            registry_services.team_role_grant(
                actor=SYSTEM, user=user, permission=permission, team=team
            )
            _record_role_change(user, team, permission, idp_group, granted=True)
            granted.append(f"{permission}@{team.slug}")
    for key, grant in recorded.items():
        if key in wanted:
            continue
        registry_services.team_role_revoke(
            actor=SYSTEM, user=user, permission=grant.permission, team=grant.team
        )
        _record_role_change(user, grant.team, grant.permission, grant.idp_group, granted=False)
        revoked.append(f"{grant.permission}@{grant.team.slug}")
        grant.delete()
    joined, left = _sync_role_groups(user)
    return {
        "roles_granted": granted,
        "roles_revoked": revoked,
        "groups_joined": joined,
        "groups_left": left,
    }


def _record_role_change(
    user: Any, team: Team, permission: str, idp_group: str, *, granted: bool
) -> None:
    if granted:
        reason = f"member of IdP group {idp_group!r}, which is mapped to this role"
    else:
        reason = f"no longer given by IdP group {idp_group!r} (left the group or mapping removed)"
    record(
        actor=None,
        actor_label=SYSTEM_ACTOR_LABEL,
        verb=AuditVerb.SSO_ROLE_GRANTED if granted else AuditVerb.SSO_ROLE_REVOKED,
        target=team,
        team_id=team.pk,
        data={
            "user": user.get_username(),
            "permission": permission,
            "idp_group": idp_group,
            "reason": reason,
        },
    )


def _sync_role_groups(user: Any) -> tuple[list[str], list[str]]:
    """Board members / Governance managers for the roles the mapping gave; memberships SSO
    made are removed when no mapping-made role needs them, manual ones never."""
    held = list(SsoRoleGrant.objects.filter(user=user).values_list("permission", flat=True))
    made = {m.group_id: m for m in SsoGroupMembership.objects.filter(user=user)}
    current = set(user.groups.values_list("pk", flat=True))
    joined: list[str] = []
    left: list[str] = []
    for group in Group.objects.filter(name__in=ROLE_GROUP_RULES):
        needed = any(ROLE_GROUP_RULES[group.name](permission) for permission in held)
        if needed and group.pk not in current:
            user.groups.add(group)
            SsoGroupMembership.objects.create(user=user, group=group)
            joined.append(group.name)
        elif not needed and group.pk in made:
            user.groups.remove(group)
            made[group.pk].delete()
            left.append(group.name)
    return joined, left


def resync_known_members(groups: set[str]) -> int:
    """Apply the mappings now to the users whose latest login listed one of ``groups``, with
    the groups of that login; returns how many.

    Runs inside the caller's transaction (a mapping saved or deleted)."""
    identities = SsoIdentity.objects.select_for_update().select_related("user")
    count = 0
    for identity in identities.order_by("pk"):
        if not identity.user.is_active:
            continue
        if not set(identity.groups) & groups:
            continue
        _sync_roles(identity.user, list(identity.groups))
        count += 1
    return count


def _mapping_data(mapping: GroupRoleMapping) -> dict[str, Any]:
    return {
        "idp_group": mapping.idp_group,
        "team": mapping.team.slug,
        "permission": mapping.permission,
    }


@transaction.atomic
def group_role_mapping_save(*, actor: Any, mapping: GroupRoleMapping) -> GroupRoleMapping:
    """Create or change a mapping (administrators only) and apply it to known members."""
    _require_administrator(actor)
    if mapping.permission not in team_roles():
        raise InvalidInput(f"Unknown team role {mapping.permission!r}.")
    if not mapping.idp_group.strip():
        raise InvalidInput("Name the IdP group.")
    before = None
    if mapping.pk is not None:
        previous = GroupRoleMapping.objects.select_for_update().select_related("team")
        before = _mapping_data(previous.get(pk=mapping.pk))
    mapping.idp_group = mapping.idp_group.strip()
    mapping.save()
    after = _mapping_data(mapping)
    record(
        actor=actor,
        verb=AuditVerb.SSO_MAPPING_CREATED if before is None else AuditVerb.SSO_MAPPING_CHANGED,
        target=mapping,
        team_id=mapping.team_id,
        data={"before": before, "after": after},
    )
    affected = {mapping.idp_group} | ({before["idp_group"]} if before else set())
    resync_known_members(affected)
    return mapping


@transaction.atomic
def group_role_mapping_delete(*, actor: Any, mapping: GroupRoleMapping) -> None:
    """Delete a mapping (administrators only); the roles it gave known members are removed
    now, unless another of their groups still maps to the same role."""
    _require_administrator(actor)
    locked = GroupRoleMapping.objects.select_for_update().select_related("team").get(pk=mapping.pk)
    data = _mapping_data(locked)
    record(
        actor=actor,
        verb=AuditVerb.SSO_MAPPING_DELETED,
        target=locked,
        team_id=locked.team_id,
        data={"before": data, "after": None},
    )
    locked.delete()
    resync_known_members({data["idp_group"]})
