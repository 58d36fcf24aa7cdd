"""The team's roles and where grants are stored: the only code that reads or writes
guardian's tables (``core.permissions`` asks it; ADR 0012).

A team role is a permission declared on the team model (``registry.Team``: viewing,
registering, governance management) or on one of its proxies (``approvals.Board``: the
board's signing roles), granted as a guardian object permission on the team's row, to a
person or to a group. Role grants people make go through ``registry.services.access``
(audited); these primitives are what it, SSO's group mapping and test fixtures call.
"""

from __future__ import annotations

import functools
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import BigIntegerField, Model, Q
from django.db.models.functions import Cast

from core import rows

VIEW = "registry.view_team_registry"
REGISTER = "registry.register_versions"
MANAGE = "registry.manage_governance"
SIGN_AS = "approvals.sign_as_{role}"


def team_model() -> type[Model]:
    return apps.get_model(settings.GOVBOARD_TEAM_MODEL)


def content_type_of(obj: Model | type[Model]) -> ContentType:
    """Guardian's content type for ``obj``: a proxy's own (``GUARDIAN_GET_CONTENT_TYPE``),
    so the board's roles (permissions of the ``approvals.Board`` proxy) attach to a team."""
    return ContentType.objects.get_for_model(obj, for_concrete_model=False)


def team_roles() -> list[str]:
    """Every grantable team role, ``app_label.codename``: the team model's declared
    permissions, then its proxies' (in app order)."""
    team = team_model()
    owners = [team] + [
        model
        for model in apps.get_models()
        if model._meta.proxy and model._meta.concrete_model is team
    ]
    return [
        f"{model._meta.app_label}.{codename}"
        for model in owners
        for codename, _ in model._meta.permissions
    ]


def team_role_choices() -> list[tuple[str, str]]:
    """Choices for a field naming a team role (computed: a new role needs no migration of
    the fields that name roles)."""
    return [(role, role.partition(".")[2]) for role in team_roles()]


def role_permission(role: str) -> str:
    return SIGN_AS.format(role=role)


def grant_team_role(user: Any, permission: str, team: Any) -> bool:
    """Give ``user`` the team role; False if they held it already (not audited here)."""
    from guardian.models import UserObjectPermission

    row = _permission(permission)
    _, created = UserObjectPermission.objects.get_or_create(
        user=user, permission=row, content_type_id=row.content_type_id, object_pk=str(team.pk)
    )
    return created


def revoke_team_role(user: Any, permission: str, team: Any) -> bool:
    """Take the role away from ``user`` (a group's grant stays); False if not held."""
    from guardian.models import UserObjectPermission

    row = _permission(permission)
    deleted, _ = UserObjectPermission.objects.filter(
        user=user, permission=row, object_pk=str(team.pk)
    ).delete()
    return bool(deleted)


def holds_team_role(user: Any, permission: str, team: Any) -> bool:
    """Whether ``user`` holds exactly ``permission`` on ``team`` (directly or by group)."""
    return permission in held_on_team(user, team.pk)


def held_on_team(actor: Any, team_pk: int) -> set[str]:
    """Every team role ``actor`` holds on the team, as ``app_label.codename`` (one query)."""
    user_rows, group_rows = _grant_rows(actor, team_roles())
    object_pk = str(team_pk)
    fields = ("permission__content_type__app_label", "permission__codename")
    rows = (
        user_rows.filter(object_pk=object_pk)
        .values_list(*fields)
        .union(group_rows.filter(object_pk=object_pk).values_list(*fields))
    )
    return {f"{app_label}.{codename}" for app_label, codename in rows}


def held_anywhere(actor: Any) -> set[str]:
    """Every team role ``actor`` holds on at least one team (one query)."""
    user_rows, group_rows = _grant_rows(actor, team_roles())
    fields = ("permission__content_type__app_label", "permission__codename")
    rows = user_rows.values_list(*fields).union(group_rows.values_list(*fields))
    return {f"{app_label}.{codename}" for app_label, codename in rows}


def holds_any(actor: Any, permissions: tuple[str, ...], team_pk: int) -> bool:
    """Whether ``actor`` holds any of ``permissions`` on the team (one statement).

    Every permission check of a person asks this, several times per admin page and once
    per sign-off: the statement is written once per set of permissions (``core.rows``,
    issue 14) instead of building and compiling two joined querysets each time."""
    if not permissions:
        return False
    sql, condition_params = _holds_any_statement(connection.vendor, tuple(permissions))
    object_pk = str(team_pk)
    params = [actor.pk, object_pk, *condition_params, actor.pk, object_pk, *condition_params]
    return bool(rows.fetch_one(sql, params)[0])


@functools.cache
def _holds_any_statement(vendor: str, permissions: tuple[str, ...]) -> tuple[str, list[str]]:
    """The statement of ``holds_any`` for ``permissions``, and the parameters of its
    condition on them: a grant to the person, or to a group of theirs, on the team's row."""
    from guardian.models import GroupObjectPermission, UserObjectPermission

    memberships = get_user_model().groups.through
    codenames: dict[str, list[str]] = {}
    for permission in permissions:
        app_label, codename = permission.split(".", 1)
        codenames.setdefault(app_label, []).append(codename)
    condition = " OR ".join(
        f"({rows.column(ContentType, 'app_label', 'ct')} = %s"
        f" AND {rows.column(Permission, 'codename', 'p')} IN ({', '.join(['%s'] * len(names))}))"
        for names in codenames.values()
    )
    condition_params = [value for app, names in codenames.items() for value in (app, *names)]

    def granted(grants: type[Model], alias: str, holder: str, via: str = "") -> str:
        # Identifiers only, from the models' metadata, quoted; every value is a parameter.
        return (
            f"SELECT 1 FROM {rows.table(grants, alias)}{via}"  # noqa: S608
            f" JOIN {rows.table(Permission, 'p')}"
            f" ON {rows.column(Permission, 'id', 'p')} = {rows.column(grants, 'permission', alias)}"
            f" JOIN {rows.table(ContentType, 'ct')}"
            f" ON {rows.column(ContentType, 'id', 'ct')}"
            f" = {rows.column(Permission, 'content_type', 'p')}"
            f" WHERE {holder} = %s AND {rows.column(grants, 'object_pk', alias)} = %s"
            f" AND ({condition})"
        )

    by_person = granted(UserObjectPermission, "u", rows.column(UserObjectPermission, "user", "u"))
    by_group = granted(
        GroupObjectPermission,
        "g",
        rows.column(memberships, "user", "m"),
        via=f" JOIN {rows.table(memberships, 'm')} ON {rows.column(memberships, 'group', 'm')}"
        f" = {rows.column(GroupObjectPermission, 'group', 'g')}",
    )
    return f"SELECT EXISTS ({by_person}) OR EXISTS ({by_group})", condition_params


def teams_holding_q(actor: Any, permissions: tuple[str, ...], lookup: str) -> Q:
    """A condition on ``lookup`` (a path to the team) keeping the teams where ``actor``
    holds any of ``permissions``: two subqueries, no query of its own."""
    user_rows, group_rows = _grant_rows(actor, permissions)
    as_team_pk = Cast("object_pk", BigIntegerField())
    return Q(**{f"{lookup}__in": user_rows.annotate(team_pk=as_team_pk).values("team_pk")}) | Q(
        **{f"{lookup}__in": group_rows.annotate(team_pk=as_team_pk).values("team_pk")}
    )


def _permission_filter(permissions: tuple[str, ...] | list[str]) -> Q:
    # One condition per app (its label and the codenames IN a list), not one per
    # permission: the same rows, and building and compiling eleven joined pairs was most
    # of the few milliseconds every admin page spent asking about roles (issue 14).
    codenames: dict[str, list[str]] = {}
    for permission in permissions:
        app_label, codename = permission.split(".", 1)
        codenames.setdefault(app_label, []).append(codename)
    condition = Q(pk__in=[])
    for app_label, names in codenames.items():
        condition |= Q(
            permission__content_type__app_label=app_label, permission__codename__in=names
        )
    return condition


def _grant_rows(actor: Any, permissions: tuple[str, ...] | list[str]) -> tuple[Any, Any]:
    from guardian.models import GroupObjectPermission, UserObjectPermission

    condition = _permission_filter(permissions)
    return (
        UserObjectPermission.objects.filter(condition, user=actor),
        GroupObjectPermission.objects.filter(condition, group__user=actor),
    )


def _permission(permission: str) -> Permission:
    app_label, codename = permission.split(".", 1)
    if permission not in team_roles():
        raise ValueError(f"Unknown team role {permission!r}.")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def holders_q(permission: str, team_pk: int) -> Q:
    """Users holding ``permission`` on the team, directly or through a group: a filter on
    the user model (who a team's escalation reaches; one subquery per grant table)."""
    from guardian.models import GroupObjectPermission, UserObjectPermission

    condition = _permission_filter((permission,))
    object_pk = str(team_pk)
    direct = UserObjectPermission.objects.filter(condition, object_pk=object_pk)
    by_group = GroupObjectPermission.objects.filter(condition, object_pk=object_pk)
    return Q(pk__in=direct.values("user_id")) | Q(groups__in=by_group.values("group_id"))
