from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models import Q
from django.db.models.signals import post_migrate

#: The read-only group every installation has (approvals migration 0005); the demo's
#: auditor is a member of this same group.
AUDITOR_GROUP = "Auditors"
#: Whose ``view_*`` permissions auditors hold: the governance apps (their history models
#: included, simple-history puts them in the same apps), who the people and groups are,
#: who holds which object permission (guardian), sign-in lockouts (identity) and when the
#: scheduler's sweeps run (django_celery_beat) — what the admin shows (approvals migration
#: 0010 added the last two). The SSO pages are for administrators only (``sso.admin``).
#: Sessions, content types and admin log entries are not governance records.
AUDITOR_APP_LABELS = (
    "registry",
    "approvals",
    "audit",
    "auth",
    "guardian",
    "identity",
    "django_celery_beat",
)


#: The groups every installation has (approvals migration 0006); ``setup_team`` puts a
#: team's board members and governance managers in them, and the demo's people are
#: members of these same groups.
BOARD_GROUP = "Board members"
MANAGER_GROUP = "Governance managers"
#: What a board member opens in the admin to find and review a request: the request and
#: what is recorded on it, the version and model under review, their evidence, findings,
#: datasets and deployments. View only: changes go through the service buttons, gated by
#: team object permissions. Every one of these admin pages is restricted to the teams the
#: user holds a role on (``core.permissions``, ``Verb.READ``), so these grant nothing
#: beyond the user's teams. Deliberately left out: the global ``view_team_registry`` (every
#: team), ``view_team`` and ``view_auditevent`` (not needed to review), and the pages that
#: are not restricted to teams (policies, signing keys, webhooks, users).
BOARD_VIEW_PERMISSIONS = (
    "approvals.view_promotionrequest",
    "approvals.view_signoff",
    "approvals.view_checkresult",
    "approvals.view_checkexception",
    "approvals.view_decisionrecord",
    "registry.view_registeredmodel",
    "registry.view_modelversion",
    "registry.view_evidence",
    "registry.view_vulnerabilityfinding",
    "registry.view_findingtriage",
    "registry.view_dataset",
    "registry.view_datasetversion",
    "registry.view_versiondataset",
    "registry.view_deployment",
)
#: Managers act through the override, expedite, deprecate and retire buttons (gated by
#: their ``registry.manage_governance`` object permission on the team) on the same pages.
MANAGER_VIEW_PERMISSIONS = BOARD_VIEW_PERMISSIONS
#: Each group and its permissions: the one place both are written.
ROLE_GROUPS = {BOARD_GROUP: BOARD_VIEW_PERMISSIONS, MANAGER_GROUP: MANAGER_VIEW_PERMISSIONS}

#: The group of auditors scoped to teams (approvals migration 0010): what opens the admin
#: pages an auditor reads — the board's pages, the teams, the audit log and the policies
#: requests were judged by. The team role ``registry.view_team_registry`` on chosen teams
#: says whose rows they see; the global "Auditors" group (every team) holds that
#: permission globally instead. Left out, like the board's: pages not restricted to teams
#: (users, groups, object permissions, signing keys, webhooks, lockouts).
TEAM_AUDITOR_GROUP = "Team auditors"
TEAM_AUDITOR_VIEW_PERMISSIONS = (
    *BOARD_VIEW_PERMISSIONS,
    "registry.view_team",
    "audit.view_auditevent",
    "approvals.view_governancepolicy",
)
#: Every group ``top_up_role_groups`` keeps complete.
TOPPED_UP_GROUPS = {**ROLE_GROUPS, TEAM_AUDITOR_GROUP: TEAM_AUDITOR_VIEW_PERMISSIONS}


def create_all_permissions(apps: Any, *, using: str = "default") -> None:
    """Make every model's permissions now: on a fresh database Django only creates them
    after all migrations (post_migrate), too late for a migration that grants them."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = None


def permissions_named(apps: Any, names: tuple[str, ...], *, using: str = "default") -> Any:
    """The permissions ``names`` ("app_label.codename") that exist in the database."""
    Permission = apps.get_model("auth", "Permission")
    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.using(using).filter(query)


def top_up_role_groups(apps: Any, *, using: str = "default") -> None:
    """Give the role groups the permissions of ``TOPPED_UP_GROUPS`` they lack (for example
    one listed after the group was made). Only ever adds; deleted groups are not recreated."""
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.using(using).filter(name__in=TOPPED_UP_GROUPS):
        group.permissions.add(*permissions_named(apps, TOPPED_UP_GROUPS[group.name], using=using))


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
        top_up_role_groups(apps, using=using)
    except DatabaseError:
        return  # approvals migrated back before the group's tables exist


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        # Permission wiring, not business logic (like Django's own create_permissions,
        # which runs on the same signal, per app, just before this): models added by later
        # migrations get their view permission on the auditor group, and the role groups
        # get any permission listed for them since they were made.
        post_migrate.connect(_top_up_after_migrate, dispatch_uid="approvals-auditor-group")
        # Schema infrastructure, like the append-only triggers: after every migrate the
        # lifecycle triggers allow exactly the transitions declared now (ADR 0014).
        from approvals.lifecycle_trigger import install_after_migrate

        post_migrate.connect(install_after_migrate, sender=self, dispatch_uid="approvals-lifecycle")
