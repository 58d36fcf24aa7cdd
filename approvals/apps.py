from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

#: The read-only group every installation has (approvals migration 0005); the demo's
#: auditor is a member of this same group.
AUDITOR_GROUP = "Auditors"
#: Whose ``view_*`` permissions auditors hold: the governance apps (their history models
#: included, simple-history puts them in the same apps), who the people and groups are,
#: and who holds which object permission (guardian). Sessions, content types, admin log
#: entries and beat schedules are not governance records.
AUDITOR_APP_LABELS = ("registry", "approvals", "audit", "auth", "guardian")


def auditor_view_permissions(apps: Any, *, using: str = "default") -> Any:
    """Every ``view_*`` permission of ``AUDITOR_APP_LABELS``: nothing that adds, changes,
    deletes or signs. ``view_team_registry`` (see every team) is one of them by design."""
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.using(using).filter(
        codename__startswith="view_", content_type__app_label__in=AUDITOR_APP_LABELS
    )


def top_up_auditor_group(apps: Any, *, using: str = "default") -> None:
    """Give the auditor group the view permissions of models added since it was made.

    Only ever adds view permissions; a group someone deleted is not recreated.
    """
    Group = apps.get_model("auth", "Group")
    group = Group.objects.using(using).filter(name=AUDITOR_GROUP).first()
    if group is not None:
        group.permissions.add(*auditor_view_permissions(apps, using=using))


def _top_up_after_migrate(sender: Any, using: str = "default", apps: Any = None, **kwargs: Any):
    from django.apps import apps as global_apps
    from django.db.utils import DatabaseError

    apps = apps or global_apps
    try:
        apps.get_model("auth", "Group")
        apps.get_model("auth", "Permission")
    except LookupError:
        return  # migrated back past auth: nothing to top up
    try:
        top_up_auditor_group(apps, using=using)
    except DatabaseError:
        return  # approvals migrated back before the group's tables exist


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        # Permission wiring, not business logic (like Django's own create_permissions,
        # which runs on the same signal, per app, just before this): models added by later
        # migrations get their view permission on the auditor group.
        post_migrate.connect(_top_up_after_migrate, dispatch_uid="approvals-auditor-group")
