"""Set up a team's board in one command: the team, its board members and governance
manager, its CI service account with a token, and its policy from a template.

    manage.py setup_team assistants --name "Assistants platform" --admin admin \\
        --member alice=platform --member bob=product --member sam=security \\
        --manager carol --template three-role-board --create-users

Idempotent: run it again with more members or another template and only what is missing
or different is written (the policy publishes a new version only if its data changes).
Everything happens in one transaction, so bad input writes nothing. Role grants, the
service account, the token and the policy go through the audited services.

Members join the "Board members" group and managers the "Governance managers" group
(approvals migration 0006): the admin's model view permissions. They see only the teams
they hold roles on, so the groups add no team.
"""

from __future__ import annotations

import copy
import secrets
from datetime import timedelta
from typing import Any

from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from approvals import services as approvals_services
from approvals.apps import BOARD_GROUP, MANAGER_GROUP, ROLE_GROUPS, permissions_named
from approvals.choices import ApproverRole
from approvals.models import GovernancePolicy
from audit.services import record
from audit.verbs import AuditVerb
from core.errors import DomainError
from core.team_roles import role_permission
from registry import services as registry_services
from registry.choices import TokenScope
from registry.models import ServiceAccount, Team

User = get_user_model()

#: Policy fields a template sets (the team scope and the name come from the command).
TEMPLATE_FIELDS = (
    "description",
    "risk_ratings",
    "required_roles",
    "review_steps",
    "checks",
    "metric_thresholds",
    "approval_validity_days",
    "retirement_grace_days",
)

THREE_ROLE_BOARD = {
    "description": "Three-role board: platform, product and security sign, one each.",
    "risk_ratings": [],
    "required_roles": {"platform": 1, "product": 1, "security": 1},
    "review_steps": [
        {
            "key": f"{role}_review",
            "title": f"{label} review",
            "type": "approval",
            "owner_role": role,
            "sla_business_days": 2,
        }
        for role, label in (
            ("platform", "Platform"),
            ("product", "Product"),
            ("security", "Security"),
        )
    ],
    "checks": {},  # every check runs; the always-critical ones are critical
    "metric_thresholds": {},
    "approval_validity_days": 90,
    "retirement_grace_days": 30,
}
# The other templates copy a seeded policy row (approvals migration 0004), so the seeded
# runbook stays the one place its steps and roles are written.
SEEDED_TEMPLATES = {"release-runbook": "default", "critical-risk": "critical-risk"}
TEMPLATES = ["three-role-board", *SEEDED_TEMPLATES]


class Command(BaseCommand):
    help = (
        "Create or update a team: board members, governance manager, CI service account "
        "and token, and a policy from a template. One transaction; bad input writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("team", help="The team's slug, e.g. assistants.")
        parser.add_argument("--name", help="The team's display name (new teams: the slug).")
        parser.add_argument("--admin", required=True, help="Username of the administrator acting.")
        parser.add_argument(
            "--member",
            action="append",
            default=[],
            dest="members",
            metavar="USER=ROLE",
            help=f"Grant a board role; roles: {', '.join(ApproverRole.values)}. Repeatable.",
        )
        parser.add_argument(
            "--manager",
            action="append",
            default=[],
            dest="managers",
            metavar="USER",
            help="Grant the governance manager role (expedite, exceptions). Repeatable.",
        )
        parser.add_argument(
            "--template",
            choices=TEMPLATES,
            help="Create or update the team's policy from a template.",
        )
        parser.add_argument(
            "--policy-name", help="The team policy's name (default: <team>-<template>)."
        )
        parser.add_argument(
            "--create-users",
            action="store_true",
            help="Create members and managers who do not exist (password printed once).",
        )
        parser.add_argument(
            "--service-account",
            help="The CI service account's name (default: ci-<team>); made with a token if new.",
        )
        parser.add_argument("--token-days", type=int, default=90, help="Token lifetime in days.")

    def handle(self, *args: Any, **options: Any) -> None:
        # Choices of argparse are not checked by call_command for every path: check here.
        if options["template"] is not None and options["template"] not in TEMPLATES:
            raise CommandError(
                f"Unknown template {options['template']!r}; choose one of {', '.join(TEMPLATES)}."
            )
        actor = User.objects.filter(username=options["admin"], is_superuser=True).first()
        if actor is None:
            raise CommandError(f"No administrator named {options['admin']!r}.")
        members = _parse_members(options["members"])
        report: list[str] = []
        try:
            with transaction.atomic():
                self._setup(actor, options, members, report)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        # Only after commit: passwords and tokens of a rolled-back run never existed.
        self.stdout.write("\n".join(report))

    def _setup(
        self,
        actor: Any,
        options: dict[str, Any],
        members: list[tuple[str, str]],
        report: list[str],
    ) -> None:
        slug = options["team"]
        policy_data = _template_data(options["template"]) if options["template"] else None
        if policy_data is not None:
            for username, role in members:
                if role not in policy_data["required_roles"]:
                    raise CommandError(
                        f"{username}={role}: the {options['template']} policy does not need "
                        f"{role} (it needs {', '.join(policy_data['required_roles'])})."
                    )
        team = _team_upsert(actor, slug=slug, name=options["name"], report=report)
        usernames = list(dict.fromkeys([u for u, _ in members] + options["managers"]))
        users = _users(actor, usernames, create=options["create_users"], report=report)
        for username, role in members:
            granted = registry_services.team_role_grant(
                actor=actor,
                user=users[username],
                permission=role_permission(role),
                team=team,
            )
            report.append(f"{username}: {role} approver{'' if granted else ' (already)'}")
        for username in options["managers"]:
            granted = registry_services.team_role_grant(
                actor=actor,
                user=users[username],
                permission="registry.manage_governance",
                team=team,
            )
            report.append(f"{username}: governance manager{'' if granted else ' (already)'}")
        groups = _role_groups(actor, report)
        for username in dict.fromkeys(username for username, _ in members):
            _join_group(actor, users[username], groups[BOARD_GROUP], report)
        for username in options["managers"]:
            _join_group(actor, users[username], groups[MANAGER_GROUP], report)
        for username in usernames:
            if not users[username].is_staff:
                report.append(
                    f"{username} is not staff: they cannot open the admin until an "
                    "administrator makes them staff."
                )
        self._service_account(actor, team, options, report)
        if policy_data is not None:
            name = options["policy_name"] or f"{slug}-{options['template']}"
            _policy_upsert(actor, name=name, team=team, data=policy_data, report=report)

    def _service_account(
        self, actor: Any, team: Team, options: dict[str, Any], report: list[str]
    ) -> None:
        name = options["service_account"] or f"ci-{team.slug}"
        account = ServiceAccount.objects.filter(name=name).first()
        if account is not None:
            if not account.teams.filter(pk=team.pk).exists():
                raise CommandError(
                    f"Service account {name} exists for other teams; choose another name "
                    "with --service-account."
                )
            report.append(f"Service account {name} exists: no new token (issue one in the admin).")
            return
        if options["token_days"] < 1:
            raise CommandError("--token-days must be at least 1.")
        account = registry_services.service_account_create(actor=actor, name=name, teams=[team])
        _, raw = registry_services.api_token_issue(
            actor=actor,
            service_account=account,
            label="initial",
            scopes=list(TokenScope.values),
            expires_at=timezone.now() + timedelta(days=options["token_days"]),
        )
        report.append(f"Service account {name} created. CI token (shown once): {raw}")


def _parse_members(values: list[str]) -> list[tuple[str, str]]:
    members = []
    for value in values:
        username, separator, role = value.partition("=")
        username, role = username.strip(), role.strip()
        if not separator or not username or not role:
            raise CommandError(f"--member {value!r}: write USER=ROLE, e.g. alice=platform.")
        if role not in ApproverRole.values:
            raise CommandError(
                f"--member {value!r}: unknown role {role!r}; "
                f"roles are {', '.join(ApproverRole.values)}."
            )
        members.append((username, role))
    return list(dict.fromkeys(members))


def _template_data(template: str) -> dict[str, Any]:
    if template == "three-role-board":
        return copy.deepcopy(THREE_ROLE_BOARD)
    seeded_name = SEEDED_TEMPLATES[template]
    seeded = GovernancePolicy.objects.filter(name=seeded_name, is_active=True).first()
    if seeded is None:
        raise CommandError(
            f"The {template} template copies the seeded policy {seeded_name!r}, "
            "which is missing or inactive."
        )
    return {field: copy.deepcopy(getattr(seeded, field)) for field in TEMPLATE_FIELDS}


def _team_upsert(actor: Any, *, slug: str, name: str | None, report: list[str]) -> Team:
    """The team, created (validated, audited) if new, renamed if ``name`` differs.

    Registry has no team service yet; this belongs there (``registry/services``) once it
    does. It writes exactly as a service would: validated, saved, audited, one transaction.
    """
    team = Team.objects.select_for_update().filter(slug=slug).first()
    if team is not None and (name is None or name == team.name):
        report.append(f"Team {slug} exists.")
        return team
    before = {"name": team.name} if team is not None else None
    team = team or Team(slug=slug)
    team.name = name or team.name or slug
    try:
        team.full_clean()
    except ValidationError as exc:
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        raise CommandError(f"The team is invalid: {problems}") from exc
    team.save()
    verb = AuditVerb.TEAM_CREATED if before is None else AuditVerb.TEAM_RENAMED
    record(
        actor=actor,
        verb=verb,
        target=team,
        team_id=team.pk,
        data={"slug": slug, "name": team.name, **({"before": before} if before else {})},
    )
    report.append(f"Team {slug} {'created' if before is None else 'renamed'}.")
    return team


def _users(actor: Any, usernames: list[str], *, create: bool, report: list[str]) -> dict[str, Any]:
    """The people named, created as staff with a random password if allowed and missing."""
    existing = {user.username: user for user in User.objects.filter(username__in=usernames)}
    missing = [username for username in usernames if username not in existing]
    if missing and not create:
        raise CommandError(
            f"Unknown users: {', '.join(missing)}. Create them first, or pass --create-users."
        )
    for username in missing:
        password = secrets.token_urlsafe(12)
        user = User(username=username, is_staff=True)
        try:
            user.full_clean(exclude=["password"])
        except ValidationError as exc:
            raise CommandError(f"User {username!r} is invalid: {exc.messages[0]}") from exc
        user.set_password(password)
        user.save()
        record(actor=actor, verb=AuditVerb.USER_CREATED, target=user, data={"username": username})
        existing[username] = user
        report.append(f"User {username} created. Password (shown once): {password}")
    return existing


def _role_groups(actor: Any, report: list[str]) -> dict[str, Group]:
    """The board and manager groups (approvals migration 0006), made again the same way,
    audited, should someone have deleted one."""
    groups = {group.name: group for group in Group.objects.filter(name__in=ROLE_GROUPS)}
    for name in [name for name in ROLE_GROUPS if name not in groups]:
        group = Group.objects.create(name=name)
        granted = permissions_named(django_apps, ROLE_GROUPS[name])
        group.permissions.set(granted)
        record(
            actor=actor,
            verb=AuditVerb.GROUP_CREATED,
            target=group,
            data={
                "name": name,
                "permissions": sorted(
                    f"{p.content_type.app_label}.{p.codename}"
                    for p in granted.select_related("content_type")
                ),
            },
        )
        groups[name] = group
        report.append(f"Group {name} was missing: created again.")
    return groups


def _join_group(actor: Any, user: Any, group: Group, report: list[str]) -> None:
    """Put ``user`` in ``group`` (audited), unless they already are."""
    if user.groups.filter(pk=group.pk).exists():
        report.append(f"{user.username}: in group {group.name} (already)")
        return
    user.groups.add(group)
    record(
        actor=actor,
        verb=AuditVerb.USER_GROUP_ADDED,
        target=user,
        data={"username": user.username, "group": group.name},
    )
    report.append(f"{user.username}: added to group {group.name}")


def _policy_upsert(
    actor: Any, *, name: str, team: Team, data: dict[str, Any], report: list[str]
) -> None:
    wanted = {**data, "team_slugs": [team.slug], "is_active": True}
    policy = GovernancePolicy.objects.filter(name=name, is_active=True).first()
    if policy is None:
        if GovernancePolicy.objects.filter(name=name).exists():
            raise CommandError(f"Policy {name} exists but is inactive: activate it in the admin.")
        created = approvals_services.policy_create(
            actor=actor, policy=GovernancePolicy(name=name, **wanted)
        )
        report.append(f"Policy {created} created for team {team.slug}.")
        return
    changes = {key: value for key, value in wanted.items() if getattr(policy, key) != value}
    if not changes:
        report.append(f"Policy {policy} is up to date.")
        return
    published = approvals_services.policy_publish(actor=actor, policy=policy, changes=changes)
    report.append(f"Policy {published} published for team {team.slug}.")
