"""Who may do what: the one rule table (ADR 0012).

Every service asks ``require(actor, verb, obj)``; the admin and the API ask ``allowed`` (or
filter with ``TeamScopedQuerySet.visible_to``) for what to show. Nothing else decides a
permission.

How a rule is read, for a verb on an object that belongs to a team:
- nobody inactive or anonymous may do anything;
- a service account (CI) may, on the teams its account names, do exactly the verbs whose rule
  says ``service_accounts``; it never holds roles, so nothing else applies to it;
- **the superuser rule, stated once**: superuser status grants the verbs whose rule says
  ``superuser`` — reading, exporting, administration (roles, accounts, policies) and the
  break-glass verbs that only *reduce* exposure (deprecate, retire). It never grants a verb
  that *adds* exposure or speaks for the board: register, sign, triage, expedite, override.
  A superuser who holds such a role explicitly on a team acts in that role like anyone else;
- a person holding one of the rule's ``global_permissions`` may do it on every team;
- otherwise one of the rule's ``team_permissions`` (or, for signing, the role's permission)
  must be granted on the team itself as a guardian object permission, to the person or to a
  group they belong to. Guardian's own short-cuts (superusers pass, global grants count)
  are never used.

Team roles are permissions declared on the team model (``registry.Team``: viewing,
registering, governance management) and on its proxies (``approvals.Board``: the board's
signing roles), so adding a role is a migration of the app that owns it. The roles and
their storage are ``core.team_roles`` (the only code touching guardian's tables); this
module names apps only as data (permission strings): ``core`` imports no app.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q

from core.errors import NotPermitted
from core.history import note_actor
from core.team_roles import (
    MANAGE,
    REGISTER,
    SIGN_AS,
    VIEW,
    grant_team_role,
    held_anywhere,
    held_on_team,
    holds_any,
    holds_team_role,
    revoke_team_role,
    role_permission,
    team_model,
    team_roles,
    teams_holding_q,
)


class Verb(StrEnum):
    READ = "read"
    EXPORT = "export"
    REGISTER = "register"
    RECHECK = "recheck"
    SIGN = "sign"
    TRIAGE = "triage"
    EXPEDITE = "expedite"
    OVERRIDE = "override"
    VIEW_DASHBOARD = "view_dashboard"
    VIEW_SCORECARD = "view_scorecard"
    MANAGE_INCIDENTS = "manage_incidents"
    DEPRECATE = "deprecate"
    RETIRE = "retire"
    GRANT_ROLES = "grant_roles"
    MANAGE_ACCOUNTS = "manage_accounts"
    CREATE_POLICY = "create_policy"
    PUBLISH_POLICY = "publish_policy"
    UNLOCK_LOGIN = "unlock_login"


#: Any team role at all (holding one shows the team); as ``role=``, any board role.
ANY_TEAM_ROLE = "*"
#: Board roles whose holders triage vulnerability findings for the team.
SECURITY_ROLES = ("security", "application_security", "security_operations_lead")


@dataclass(frozen=True)
class Rule:
    summary: str
    refusal: str
    team_permissions: tuple[str, ...] = ()
    global_permissions: tuple[str, ...] = ()
    service_accounts: bool = False
    superuser: bool = False
    #: The verb needs ``role=``: the permission is ``SIGN_AS`` for that role.
    per_role: bool = False


RULES: dict[Verb, Rule] = {
    Verb.READ: Rule(
        "See a team's models, versions, requests, evidence and audit events.",
        "You may not see this team's records.",
        team_permissions=(ANY_TEAM_ROLE,),
        global_permissions=(VIEW,),
        service_accounts=True,
        superuser=True,
    ),
    Verb.EXPORT: Rule(
        "Export a team's history and reports.",
        "You may not export this team's records.",
        team_permissions=(ANY_TEAM_ROLE,),
        global_permissions=(VIEW,),
        superuser=True,
    ),
    Verb.REGISTER: Rule(
        "Register models, versions, datasets, evidence and deployments; request promotion.",
        "You may not register for this team.",
        team_permissions=(REGISTER,),
        service_accounts=True,
    ),
    Verb.RECHECK: Rule(
        "Re-run a request's checks or withdraw it (besides its requester).",
        "You may not re-run checks for this team's requests.",
        team_permissions=(REGISTER, MANAGE),
        service_accounts=True,
    ),
    Verb.SIGN: Rule(
        "Sign off, reject or send back as board role R.",
        "You do not hold this board role on the team.",
        per_role=True,
    ),
    Verb.TRIAGE: Rule(
        "Rate or justify a vulnerability finding (the team's security roles).",
        "Only the team's security approvers may triage its findings.",
        team_permissions=tuple(SIGN_AS.format(role=role) for role in SECURITY_ROLES),
    ),
    Verb.EXPEDITE: Rule(
        "Raise a request's priority and halve its SLAs.",
        "Only the team's governance managers may expedite.",
        team_permissions=(MANAGE,),
    ),
    Verb.OVERRIDE: Rule(
        "Grant a time-boxed exception to a failed non-critical check.",
        "Only the team's governance managers may grant exceptions.",
        team_permissions=(MANAGE,),
    ),
    Verb.VIEW_DASHBOARD: Rule(
        # Reading only: the managers who act on pending work and the auditors who watch
        # it; board members see their queue instead.
        "See the governance dashboard (pending work, SLA breaches, reasons) of a team.",
        "Only governance managers and auditors see the dashboard.",
        team_permissions=(MANAGE, VIEW),
        global_permissions=(VIEW,),
        superuser=True,
    ),
    Verb.VIEW_SCORECARD: Rule(
        # The dashboard's readers, and the team's CI too: aggregate governance metrics of
        # a team whose every request, version and incident its CI may already read.
        "See the governance scorecard (lead time, failures caught, exceptions, incidents).",
        "Only governance managers, auditors and the team's CI see the scorecard.",
        team_permissions=(MANAGE, VIEW),
        global_permissions=(VIEW,),
        service_accounts=True,
        superuser=True,
    ),
    Verb.MANAGE_INCIDENTS: Rule(
        # Whoever ships the team's releases may raise the alarm and work it: its
        # registrants and governance managers, and its CI or monitoring account (issue
        # 13). A team's read-only viewers and auditors read incidents (Verb.READ) only.
        "Open, annotate, mitigate and resolve a team's incidents.",
        "Only the team's registrants and governance managers work on its incidents.",
        team_permissions=(REGISTER, MANAGE),
        service_accounts=True,
    ),
    Verb.DEPRECATE: Rule(
        "Deprecate a version (new usage blocked).",
        "Only the team's governance managers may change this version's lifecycle.",
        team_permissions=(MANAGE,),
        superuser=True,
    ),
    Verb.RETIRE: Rule(
        "Retire a deprecated version.",
        "Only the team's governance managers may change this version's lifecycle.",
        team_permissions=(MANAGE,),
        superuser=True,
    ),
    Verb.GRANT_ROLES: Rule(
        "Grant or revoke team roles.",
        "Only administrators grant or revoke team roles.",
        superuser=True,
    ),
    Verb.MANAGE_ACCOUNTS: Rule(
        "Create service accounts, issue and revoke their tokens.",
        "Only administrators manage service accounts.",
        superuser=True,
    ),
    Verb.CREATE_POLICY: Rule(
        "Create a governance policy.",
        "You may not create governance policies.",
        global_permissions=("approvals.add_governancepolicy",),
        superuser=True,
    ),
    Verb.PUBLISH_POLICY: Rule(
        "Publish a new version of a governance policy.",
        "You may not edit governance policies.",
        global_permissions=("approvals.change_governancepolicy",),
        superuser=True,
    ),
    Verb.UNLOCK_LOGIN: Rule(
        "Lift a sign-in lockout.",
        "You may not unlock sign-ins.",
        global_permissions=("identity.unlock_loginlockout",),
        superuser=True,
    ),
}


def service_account_team_ids(user: Any) -> set[int] | None:
    """The team ids of a service account's user, or None for a person. Token
    authentication caches them on the user (``_govboard_team_ids``)."""
    cached = getattr(user, "_govboard_team_ids", None)
    if cached is not None:
        return cached
    try:
        account = user.service_account
    except (ObjectDoesNotExist, AttributeError):
        return None
    team_ids = set(account.teams.values_list("id", flat=True))
    user._govboard_team_ids = team_ids
    return team_ids


def is_service_account(user: Any) -> bool:
    return _active(user) and service_account_team_ids(user) is not None


def team_of(obj: Any) -> Any:
    """The team an object belongs to: the team itself, or its ``team`` attribute."""
    if obj is None or isinstance(obj, team_model()):
        return obj
    return obj.team


def allowed(actor: Any, verb: Verb, obj: Any = None, *, role: str | None = None) -> bool:
    """May ``actor`` do ``verb`` on ``obj`` (a team, or anything with a ``team``; None for
    verbs that concern no team)? Read the module docstring for the order of the rules."""
    rule = RULES[verb]
    if not _active(actor):
        return False
    team = team_of(obj)
    account_teams = service_account_team_ids(actor)
    if account_teams is not None:
        return rule.service_accounts and team is not None and team.pk in account_teams
    if rule.superuser and actor.is_superuser:
        return True
    if _holds_global(actor, rule):
        return True
    if team is None:
        return False
    return holds_any(actor, _object_permissions(rule, role), team.pk)


def require(
    actor: Any,
    verb: Verb,
    obj: Any = None,
    *,
    role: str | None = None,
    refusal: str | None = None,
) -> None:
    """Raise ``NotPermitted`` (nothing changed) unless ``allowed``; ``refusal`` words the
    message for the caller's context (the rule's own otherwise)."""
    if not allowed(actor, verb, obj, role=role):
        raise NotPermitted(refusal or RULES[verb].refusal)
    # The history rows the caller writes next name this actor (core.history).
    note_actor(actor)


def team_q(actor: Any, verb: Verb, lookup: str, *, role: str | None = None) -> Q:
    """A filter on ``lookup`` (a path to the team, e.g. ``registered_model__team``) keeping
    the rows of the teams where ``actor`` may do ``verb``: one SQL condition, no query."""
    rule = RULES[verb]
    nothing = Q(pk__in=[])
    if not _active(actor):
        return nothing
    account_teams = service_account_team_ids(actor)
    if account_teams is not None:
        return Q(**{f"{lookup}__in": sorted(account_teams)}) if rule.service_accounts else nothing
    if (rule.superuser and actor.is_superuser) or _holds_global(actor, rule):
        return Q()
    permissions = _object_permissions(rule, role)
    if not permissions:
        return nothing
    return teams_holding_q(actor, permissions, lookup)


def teams_for(actor: Any, verb: Verb = Verb.READ, *, role: str | None = None) -> Any:
    """The teams where ``actor`` may do ``verb`` (a lazy queryset)."""
    return team_model().objects.filter(team_q(actor, verb, "pk", role=role))


def roles_held(actor: Any, team: Any = None) -> list[str]:
    """The board roles ``actor`` holds on ``team``, or on any team when None (one query;
    never for a service account; superuser status adds none), in declaration order."""
    if not _active(actor) or service_account_team_ids(actor) is not None:
        return []
    prefix, _ = SIGN_AS.split("{role}")
    held = held_anywhere(actor) if team is None else held_on_team(actor, team.pk)
    return [
        permission.removeprefix(prefix)
        for permission in team_roles()
        if permission.startswith(prefix) and permission in held
    ]


def verbs_on_team(actor: Any, team: Any, verbs: tuple[Verb, ...]) -> set[Verb]:
    """Which of ``verbs`` (not per-role) ``actor`` may do on ``team``, in one query: for a
    page that asks about many rows of the same team."""
    held: set[str] | None = None
    granted = set()
    for verb in verbs:
        rule = RULES[verb]
        if not _active(actor):
            break
        if service_account_team_ids(actor) is not None:
            if allowed(actor, verb, team):
                granted.add(verb)
            continue
        if (rule.superuser and actor.is_superuser) or _holds_global(actor, rule):
            granted.add(verb)
            continue
        if held is None:
            held = held_on_team(actor, team.pk)
        wanted = set(rule.team_permissions)
        if (ANY_TEAM_ROLE in wanted and held) or wanted & held:
            granted.add(verb)
    return granted


def _active(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def _holds_global(actor: Any, rule: Rule) -> bool:
    # Django's has_perm answers True to superusers for everything: only a non-superuser's
    # model permissions count here (the superuser rule is ``rule.superuser``, above).
    if actor.is_superuser:
        return False
    return any(actor.has_perm(permission) for permission in rule.global_permissions)


def _object_permissions(rule: Rule, role: str | None) -> tuple[str, ...]:
    if rule.per_role and role == ANY_TEAM_ROLE:
        prefix = SIGN_AS.split("{role}")[0]
        return tuple(p for p in team_roles() if p.startswith(prefix))
    if rule.per_role:
        return (role_permission(role),) if role else ()
    if ANY_TEAM_ROLE in rule.team_permissions:
        return tuple(team_roles())
    return rule.team_permissions


__all__ = [
    "ANY_TEAM_ROLE",
    "MANAGE",
    "REGISTER",
    "RULES",
    "SECURITY_ROLES",
    "SIGN_AS",
    "VIEW",
    "Rule",
    "Verb",
    "allowed",
    "grant_team_role",
    "holds_team_role",
    "is_service_account",
    "require",
    "revoke_team_role",
    "role_permission",
    "roles_held",
    "service_account_team_ids",
    "team_of",
    "team_q",
    "team_roles",
    "teams_for",
    "verbs_on_team",
]
