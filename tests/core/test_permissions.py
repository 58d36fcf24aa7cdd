"""The one rule table (core.permissions, ADR 0012): every verb answered the same way by
``allowed`` (services, buttons) and by ``visible_to`` (lists), the superuser rule stated
once, service accounts and board roles as the table says."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.choices import ApproverRole
from core import permissions
from core.errors import NotPermitted
from core.permissions import RULES, Verb, allowed, require
from registry.models import Team
from tests.registry.factories import (
    ModelVersionFactory,
    TeamFactory,
    UserFactory,
    approver,
    manager,
    service_account_with_token,
    team_member,
)

pytestmark = pytest.mark.django_db
TEAM_VERBS = [verb for verb, rule in RULES.items() if not rule.per_role]


def _agree(actor, team: Team, verb: Verb, *, role: str | None = None) -> bool:
    """``allowed`` and the list filter give one answer; return it."""
    single = allowed(actor, verb, team, role=role)
    listed = Team.objects.visible_to(actor, verb, role=role).filter(pk=team.pk).exists()
    assert single == listed, f"{verb} for {actor}: allowed={single}, visible_to={listed}"
    return single


def test_every_permission_the_table_names_exists():
    named = {
        permission
        for rule in RULES.values()
        for permission in (*rule.team_permissions, *rule.global_permissions)
        if permission != permissions.ANY_TEAM_ROLE
    } | {permissions.role_permission(role) for role in ApproverRole.values}
    for permission in named:
        app_label, codename = permission.split(".")
        assert Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).exists(), permission


def test_the_board_roles_belong_to_approvals_and_the_team_roles_to_registry():
    assert permissions.team_roles() == [
        "registry.manage_governance",
        "registry.view_team_registry",
        "registry.register_versions",
        *(f"approvals.sign_as_{role}" for role in ApproverRole.values),
    ]


@pytest.mark.parametrize("verb", TEAM_VERBS)
def test_superuser_status_grants_exactly_the_verbs_whose_rule_says_so(verb):
    # Given a superuser holding no team role
    team = TeamFactory()
    root = UserFactory(is_superuser=True)

    # Then the table's superuser flag alone decides (list and single answer agree)
    assert _agree(root, team, verb) is RULES[verb].superuser


def test_superuser_status_never_signs_but_an_explicit_role_does():
    team = TeamFactory()
    root = UserFactory(is_superuser=True)
    assert not _agree(root, team, Verb.SIGN, role="security")
    permissions.grant_team_role(root, permissions.role_permission("security"), team)
    assert _agree(root, team, Verb.SIGN, role="security")
    assert not _agree(root, team, Verb.SIGN, role="platform")


def test_superusers_may_deprecate_and_retire_but_not_expedite_or_override():
    team = TeamFactory()
    root = UserFactory(is_superuser=True)
    assert allowed(root, Verb.DEPRECATE, team) and allowed(root, Verb.RETIRE, team)
    assert not allowed(root, Verb.EXPEDITE, team)
    assert not allowed(root, Verb.OVERRIDE, team)
    with pytest.raises(NotPermitted, match="governance managers may expedite"):
        require(root, Verb.EXPEDITE, team)


@pytest.mark.parametrize("verb", TEAM_VERBS)
def test_a_governance_manager_holds_the_managers_verbs_on_their_team_only(verb):
    team, other = TeamFactory(), TeamFactory()
    person = manager(team)
    expected = "registry.manage_governance" in RULES[verb].team_permissions or (
        permissions.ANY_TEAM_ROLE in RULES[verb].team_permissions
    )
    assert _agree(person, team, verb) is expected
    assert _agree(person, other, verb) is False


@pytest.mark.parametrize("verb", TEAM_VERBS)
def test_a_service_account_does_only_its_verbs_and_only_on_its_teams(verb):
    team, other = TeamFactory(), TeamFactory()
    account, _ = service_account_with_token(teams=[team])
    user = account.user
    assert _agree(user, team, verb) is RULES[verb].service_accounts
    assert _agree(user, other, verb) is False


def test_a_service_account_never_signs_even_with_a_role_row():
    team = TeamFactory()
    account, _ = service_account_with_token(teams=[team])
    permissions.grant_team_role(account.user, permissions.role_permission("platform"), team)
    assert not _agree(account.user, team, Verb.SIGN, role="platform")


@pytest.mark.parametrize("verb", list(RULES))
def test_an_inactive_person_may_do_nothing(verb):
    team = TeamFactory()
    person = approver(team, *ApproverRole.values, is_superuser=True)
    permissions.grant_team_role(person, permissions.MANAGE, team)
    person.is_active = False
    person.save()
    assert not _agree(person, team, verb, role="security")


def test_a_role_held_through_a_group_counts_like_a_direct_one():
    from guardian.models import GroupObjectPermission

    team = TeamFactory()
    group = Group.objects.create(name="security board")
    permission = Permission.objects.get(
        content_type__app_label="approvals", codename="sign_as_security"
    )
    GroupObjectPermission.objects.create(
        group=group,
        permission=permission,
        content_type_id=permission.content_type_id,
        object_pk=str(team.pk),
    )
    person = UserFactory()
    assert not _agree(person, team, Verb.SIGN, role="security")
    person.groups.add(group)
    assert _agree(person, team, Verb.SIGN, role="security")
    assert _agree(person, team, Verb.TRIAGE)
    assert permissions.roles_held(person, team) == ["security"]


def test_a_global_signing_permission_grants_no_team_role():
    team = TeamFactory()
    person = UserFactory()
    person.user_permissions.add(
        Permission.objects.get(content_type__app_label="approvals", codename="sign_as_security")
    )
    assert not _agree(person, team, Verb.SIGN, role="security")
    assert not _agree(person, team, Verb.READ)


def test_the_global_view_permission_shows_every_team_and_grants_nothing_else():
    team = TeamFactory()
    auditor = UserFactory()
    auditor.user_permissions.add(
        Permission.objects.get(content_type__app_label="registry", codename="view_team_registry")
    )
    assert _agree(auditor, team, Verb.READ) and _agree(auditor, team, Verb.EXPORT)
    for verb in (Verb.REGISTER, Verb.EXPEDITE, Verb.OVERRIDE, Verb.DEPRECATE, Verb.TRIAGE):
        assert not _agree(auditor, team, verb)


def test_the_security_roles_triage_and_the_other_roles_do_not():
    team = TeamFactory()
    for role in ApproverRole.values:
        person = approver(team, role)
        assert _agree(person, team, Verb.TRIAGE) is (role in permissions.SECURITY_ROLES)


def test_an_object_answers_for_its_team():
    version = ModelVersionFactory()
    person = manager(version.registered_model.team)
    assert allowed(person, Verb.DEPRECATE, version)
    assert not allowed(person, Verb.DEPRECATE, ModelVersionFactory())


def test_the_roles_a_person_holds_are_read_in_one_query():
    team = TeamFactory()
    person = approver(team, "platform", "security")
    permissions.grant_team_role(person, permissions.MANAGE, team)
    # Whether the user is a service account is asked once per user object (Django caches
    # the missing reverse relation): a page pays it once, whatever it lists.
    assert not permissions.is_service_account(person)
    with CaptureQueriesContext(connection) as queries:
        assert permissions.roles_held(person, team) == ["platform", "security"]
    assert len(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        held = permissions.verbs_on_team(person, team, (Verb.EXPEDITE, Verb.OVERRIDE))
    assert held == {Verb.EXPEDITE, Verb.OVERRIDE} and len(queries) == 1


def test_a_permission_check_of_a_person_is_one_query_whatever_they_hold():
    team = TeamFactory()
    person = approver(team, "platform")
    group = Group.objects.create(name="managers")
    person.groups.add(group)
    assert not permissions.is_service_account(person)
    # Django reads a person's model permissions once per user object, for the verbs whose
    # rule names a global permission: a page pays that once, whatever it checks.
    person.has_perm("registry.view_team")
    for verb, role in ((Verb.SIGN, "platform"), (Verb.EXPEDITE, None), (Verb.READ, None)):
        with CaptureQueriesContext(connection) as queries:
            allowed(person, verb, team, role=role)
        assert len(queries) == 1, verb


def test_a_grant_of_a_same_named_permission_of_another_app_is_no_team_role():
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission, UserObjectPermission

    # Given "manage_governance" and "sign_as_platform" declared by another model too, and
    # granted on the team's row to a person and to their group
    team = TeamFactory()
    person = UserFactory()
    group = Group.objects.create(name="lookalikes")
    person.groups.add(group)
    elsewhere = ContentType.objects.get_for_model(Group)
    for codename, grants in (
        ("manage_governance", UserObjectPermission),
        ("sign_as_platform", GroupObjectPermission),
    ):
        lookalike = Permission.objects.create(
            content_type=elsewhere, codename=codename, name=codename
        )
        holder = {"user": person} if grants is UserObjectPermission else {"group": group}
        # bulk_create: guardian's save() insists the row's object is of the permission's
        # model; a row written around it must not pass for a team role either.
        grants.objects.bulk_create(
            [grants(**holder, permission=lookalike, content_type=elsewhere, object_pk=str(team.pk))]
        )
    # Then neither is the team role of that name
    assert not _agree(person, team, Verb.EXPEDITE)
    assert not _agree(person, team, Verb.SIGN, role="platform")
    assert permissions.roles_held(person, team) == []


def test_granting_an_unknown_role_is_refused_and_writes_nothing():
    from guardian.models import UserObjectPermission

    team = TeamFactory()
    person = UserFactory()
    with pytest.raises(ValueError, match="Unknown team role"):
        permissions.grant_team_role(person, "registry.sign_as_platform", team)
    assert not UserObjectPermission.objects.filter(user=person).exists()


def test_a_grant_and_a_revoke_report_whether_they_changed_anything():
    team = TeamFactory()
    person = team_member(team)
    role = permissions.role_permission("product")
    assert permissions.grant_team_role(person, role, team) is True
    assert permissions.grant_team_role(person, role, team) is False
    assert permissions.holds_team_role(person, role, team)
    assert permissions.revoke_team_role(person, role, team) is True
    assert permissions.revoke_team_role(person, role, team) is False
    assert not permissions.holds_team_role(person, role, team)
