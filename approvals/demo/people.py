"""The demo's people: one for every role, each in the groups that role needs."""

from __future__ import annotations

from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from approvals.apps import (
    AUDITOR_GROUP,
    BOARD_GROUP,
    MANAGER_GROUP,
    ROLE_GROUPS,
    top_up_auditor_group,
    top_up_role_groups,
)
from core.team_roles import MANAGE, REGISTER, VIEW, role_permission

User = get_user_model()

PEOPLE = {
    # username: (description, team roles, groups)
    "admin": ("administrator (superuser)", [], []),
    "priya": ("platform approver", [role_permission("platform")], [BOARD_GROUP]),
    "omar": ("product approver", [role_permission("product")], [BOARD_GROUP]),
    "sofia": ("security approver", [role_permission("security")], [BOARD_GROUP]),
    "maria": (
        "governance manager",
        [MANAGE, VIEW],
        [MANAGER_GROUP],
    ),
    "ada": ("auditor (read-only, every team)", [], [AUDITOR_GROUP]),
    "oliver": ("model owner", [REGISTER, VIEW], [BOARD_GROUP]),
    "bea": ("backup owner", [VIEW], [BOARD_GROUP]),
}


def people_create(passwords: dict[str, str]) -> dict[str, object]:
    """The demo's people (created, or given a fresh password), by username."""
    groups = _groups()
    people = {}
    for username, (description, _, group_names) in PEOPLE.items():
        user, _ = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@demo.govboard.invalid"}
        )
        user.first_name = description
        user.is_staff = True
        user.is_superuser = username == "admin"
        user.set_password(passwords[username])
        user.save()
        user.groups.set([groups[name] for name in group_names])
        people[username] = user
    return people


def _groups() -> dict[str, Group]:
    # The groups every installation has (approvals migrations 0005 and 0006), not demo
    # copies; made again the same way should someone have deleted one.
    groups = {
        name: Group.objects.get_or_create(name=name)[0] for name in (*ROLE_GROUPS, AUDITOR_GROUP)
    }
    top_up_auditor_group(django_apps)
    top_up_role_groups(django_apps)
    return groups
