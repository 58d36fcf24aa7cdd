"""``manage.py setup_team``: a team's board, manager, CI account and policy in one
command, idempotent, through the audited services, and nothing written on bad input."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from guardian.models import UserObjectPermission

from approvals.apps import BOARD_GROUP, BOARD_VIEW_PERMISSIONS, MANAGER_GROUP
from approvals.models import GovernancePolicy
from approvals.services import policy_for_version
from audit.models import AuditEvent
from core import permissions
from registry.models import ApiToken, ServiceAccount, Team
from registry.services import hash_token, service_account_create
from tests.registry.factories import ModelVersionFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def admin_user():
    return UserFactory(username="root", is_superuser=True)


def setup_team(*args: str, **options) -> str:
    out = io.StringIO()
    call_command("setup_team", *args, stdout=out, **options)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {
        "teams": Team.objects.count(),
        "users": User.objects.count(),
        "object_permissions": UserObjectPermission.objects.count(),
        "service_accounts": ServiceAccount.objects.count(),
        "tokens": ApiToken.objects.count(),
        "policies": GovernancePolicy.objects.count(),
        "policy_history": GovernancePolicy.history.count(),
        "audit_events": AuditEvent.objects.count(),
        "groups": Group.objects.count(),
        "group_memberships": User.groups.through.objects.count(),
    }


def group_names(username: str) -> set[str]:
    return set(User.objects.get(username=username).groups.values_list("name", flat=True))


def test_a_three_role_board_is_set_up_in_one_command(admin_user):
    # Given an administrator and no team yet
    # When the team is set up with three members, a manager and the three-role template
    out = setup_team(
        "assistants",
        "--name=Assistants platform",
        "--admin=root",
        "--member=alice=platform",
        "--member=bob=product",
        "--member=sam=security",
        "--manager=carol",
        "--template=three-role-board",
        "--create-users",
    )

    # Then the team exists and each person holds exactly their role on it
    team = Team.objects.get(slug="assistants")
    assert team.name == "Assistants platform"
    people = {u.username: u for u in User.objects.filter(username__in=["alice", "bob", "sam"])}
    assert permissions.roles_held(people["alice"], team) == ["platform"]
    assert permissions.roles_held(people["bob"], team) == ["product"]
    assert permissions.roles_held(people["sam"], team) == ["security"]
    carol = User.objects.get(username="carol")
    assert permissions.holds_team_role(carol, permissions.MANAGE, team)
    assert permissions.roles_held(carol, team) == []

    # And the new people got a password printed once, which works
    password = re.search(r"User alice created\. Password \(shown once\): (\S+)", out).group(1)
    assert people["alice"].check_password(password) and people["alice"].is_staff

    # And the team's CI account has a working token, printed once
    account = ServiceAccount.objects.get(name="ci-assistants")
    assert list(account.teams.all()) == [team]
    token = re.search(r"CI token \(shown once\): (\S+)", out).group(1)
    assert ApiToken.objects.get(service_account=account).token_hash == hash_token(token)

    # And the team's policy is the three-role board, chosen for the team's versions
    policy = GovernancePolicy.objects.get(name="assistants-three-role-board")
    assert (policy.version, policy.team_slugs, policy.required_roles) == (
        1,
        ["assistants"],
        {"platform": 1, "product": 1, "security": 1},
    )
    assert [step["owner_role"] for step in policy.review_steps] == [
        "platform",
        "product",
        "security",
    ]
    version = ModelVersionFactory(registered_model__team=team)
    assert policy_for_version(version) == policy

    # And every write is in the audit trail, by the administrator
    verbs = list(AuditEvent.objects.order_by("id").values_list("verb", flat=True))
    assert verbs.count("team.role_granted") == 4
    assert verbs.count("user.group_added") == 4
    for verb in ("team.created", "user.created", "service_account.created", "token.issued"):
        assert verb in verbs
    assert "policy.created" in verbs
    assert set(AuditEvent.objects.values_list("actor", flat=True)) == {admin_user.pk}


def test_running_it_again_changes_nothing_and_prints_no_new_secrets(admin_user):
    # Given a team set up once
    args = [
        "assistants",
        "--admin=root",
        "--member=alice=application_security",
        "--template=critical-risk",
    ]
    setup_team(*args, "--create-users")
    before = row_counts()

    # When the same command runs again
    out = setup_team(*args)

    # Then nothing is written and no password or token is shown
    assert row_counts() == before
    assert "shown once" not in out
    assert "(already)" in out and "is up to date" in out


def test_running_it_with_another_member_and_template_adds_only_what_is_missing(admin_user):
    # Given a team with a three-role board
    setup_team(
        "assistants",
        "--admin=root",
        "--member=alice=platform",
        "--template=three-role-board",
        "--policy-name=assistants-board",
        "--create-users",
    )
    policy = GovernancePolicy.objects.get(name="assistants-board")
    tokens = ApiToken.objects.count()

    # When it runs again with another member and the release runbook under the same name
    setup_team(
        "assistants",
        "--admin=root",
        "--member=dora=data_governance",
        "--template=release-runbook",
        "--policy-name=assistants-board",
        "--create-users",
    )

    # Then the new member holds their role, no second token is issued, and the policy is
    # the next version with the seeded runbook's roles and steps
    team = Team.objects.get(slug="assistants")
    assert permissions.roles_held(User.objects.get(username="dora"), team) == ["data_governance"]
    assert ApiToken.objects.count() == tokens
    policy.refresh_from_db()
    runbook = GovernancePolicy.objects.get(name="default", is_active=True)
    assert policy.version == 2
    assert (policy.required_roles, policy.review_steps, policy.checks) == (
        runbook.required_roles,
        runbook.review_steps,
        runbook.checks,
    )
    assert policy.team_slugs == ["assistants"]


def test_the_critical_risk_template_copies_the_seeded_critical_risk_policy(admin_user):
    setup_team("vision", "--admin=root", "--template=critical-risk")
    seeded = GovernancePolicy.objects.get(name="critical-risk")
    policy = GovernancePolicy.objects.get(name="vision-critical-risk")
    assert policy.required_roles["application_security"] == 2
    assert (policy.required_roles, policy.review_steps, policy.risk_ratings) == (
        seeded.required_roles,
        seeded.review_steps,
        ["critical"],
    )
    # A critical version of the team gets it; a medium one falls back to the default
    team = Team.objects.get(slug="vision")
    critical = ModelVersionFactory(registered_model__team=team, risk_rating="critical")
    medium = ModelVersionFactory(registered_model__team=team, risk_rating="medium")
    assert policy_for_version(critical) == policy
    assert policy_for_version(medium).is_default


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--admin=root", "--template=five-role-board"],
            "argument --template: invalid choice: 'five-role-board'",
            id="unknown template",
        ),
        pytest.param(
            ["--admin=root", "--member=alice=wizard", "--create-users"],
            "unknown role 'wizard'",
            id="unknown role",
        ),
        pytest.param(
            ["--admin=root", "--member=alice"], "write USER=ROLE", id="member without a role"
        ),
        pytest.param(
            ["--admin=root", "--member=alice=platform", "--manager=nobody"],
            "Unknown users: nobody. Create them first, or pass --create-users.",
            id="unknown users without --create-users",
        ),
        pytest.param(
            ["--admin=alice", "--member=alice=platform"],
            "No administrator named 'alice'",
            id="an admin who is not a superuser",
        ),
        pytest.param(
            ["--admin=ghost"], "No administrator named 'ghost'", id="an admin who does not exist"
        ),
        pytest.param(
            ["--member=bob=platform"],
            "the following arguments are required: --admin",
            id="missing admin",
        ),
        pytest.param(
            [
                "--admin=root",
                "--member=bob=platform",
                "--member=alice=ml_engineer",
                "--template=three-role-board",
                "--create-users",
            ],
            "alice=ml_engineer: the three-role-board policy does not need ml_engineer",
            id="a role the template does not need",
        ),
        pytest.param(
            ["--admin=root", "--member=sa-ci-other=platform"],
            "Service accounts get their teams on the account, not roles.",
            id="a service account as board member, after other writes",
        ),
        pytest.param(
            ["--admin=root", "--name=" + "x" * 300, "--create-users", "--member=bob=platform"],
            "The team is invalid",
            id="an invalid team name",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_written(
    admin_user, args, message
):
    # Given an administrator, an ordinary user and another team's CI account
    UserFactory(username="alice")
    other = TeamFactory(slug="other", name="Other")
    service_account_create(actor=admin_user, name="ci-other", teams=[other])
    before = row_counts()

    # When setup_team runs with bad input
    with pytest.raises(CommandError, match=re.escape(message)):
        setup_team("assistants", *args)

    # Then nothing at all was written
    assert row_counts() == before
    assert not Team.objects.filter(slug="assistants").exists()


def test_a_service_account_name_taken_by_another_team_is_refused_and_nothing_is_written(
    admin_user,
):
    other = TeamFactory(slug="other", name="Other")
    service_account_create(actor=admin_user, name="ci-assistants", teams=[other])
    before = row_counts()
    with pytest.raises(CommandError, match="exists for other teams"):
        setup_team("assistants", "--admin=root", "--template=three-role-board")
    assert row_counts() == before


def test_members_join_the_board_group_and_managers_the_managers_group_audited(admin_user):
    # Given an existing member and an existing manager, already staff
    UserFactory(username="alice")
    UserFactory(username="carol")

    # When the team is set up with them, and bob who is both member and manager
    out = setup_team(
        "assistants",
        "--admin=root",
        "--member=alice=platform",
        "--member=bob=security",
        "--manager=carol",
        "--manager=bob",
        "--create-users",
    )

    # Then each is in their groups (and no other), which give them the admin's pages
    assert group_names("alice") == {BOARD_GROUP}
    assert group_names("carol") == {MANAGER_GROUP}
    assert group_names("bob") == {BOARD_GROUP, MANAGER_GROUP}
    assert User.objects.get(username="alice").has_perm("approvals.view_promotionrequest")
    assert "alice: added to group Board members" in out

    # And each membership is in the audit trail, by the administrator
    joined = AuditEvent.objects.filter(verb="user.group_added").order_by("id")
    assert [(e.data["username"], e.data["group"]) for e in joined] == [
        ("alice", BOARD_GROUP),
        ("bob", BOARD_GROUP),
        ("carol", MANAGER_GROUP),
        ("bob", MANAGER_GROUP),
    ]
    assert {(e.actor_id, e.object_type) for e in joined} == {(admin_user.pk, "auth.user")}
    assert all(e.object_id == str(User.objects.get(username=e.data["username"]).pk) for e in joined)

    # And running it again adds no membership and records nothing
    before = row_counts()
    out = setup_team("assistants", "--admin=root", "--member=alice=platform", "--manager=carol")
    assert row_counts() == before
    assert "alice: in group Board members (already)" in out


def test_a_deleted_board_group_is_made_again_with_its_permissions_audited(admin_user):
    # Given an installation whose board group someone deleted
    Group.objects.filter(name=BOARD_GROUP).delete()

    # When a team is set up with a member
    out = setup_team("assistants", "--admin=root", "--member=alice=platform", "--create-users")

    # Then the group is back with exactly its permissions, audited, and alice is in it
    group = Group.objects.get(name=BOARD_GROUP)
    assert {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    } == set(BOARD_VIEW_PERMISSIONS)
    created = AuditEvent.objects.get(verb="group.created")
    assert created.data["permissions"] == sorted(BOARD_VIEW_PERMISSIONS)
    assert "Group Board members was missing" in out
    assert group_names("alice") == {BOARD_GROUP}


def test_an_existing_member_who_is_not_staff_is_told_so(admin_user):
    UserFactory(username="alice", is_staff=False)
    out = setup_team("assistants", "--admin=root", "--member=alice=platform")
    assert "alice is not staff: they cannot open the admin" in out
    assert group_names("alice") == {BOARD_GROUP}
