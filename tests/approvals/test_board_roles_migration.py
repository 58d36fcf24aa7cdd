"""Moving the board's roles from registry to approvals (approvals 0009, sso 0002) keeps every
existing grant: users' and groups' object permissions, and SSO's mappings and grants."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core import permissions
from core.permissions import Verb, allowed
from tests.migration_database import default_connection_on_a_new_database

BEFORE = [
    ("registry", "0008_dataset_licence_and_finding_triage"),
    ("approvals", "0008_signoff_reauth_idp"),
    ("sso", "0001_initial"),
]
AFTER = [
    ("registry", "0009_team_roles_without_board"),
    ("approvals", "0009_board_roles"),
    ("sso", "0002_board_role_names"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def database_to_migrate_back():
    """On PostgreSQL a new, empty database of the test's own, migrated forward to the old
    schema (seconds; tests.migration_database). Elsewhere the test database itself, migrated
    back and then, pass or fail, forward to every app's latest migration again, which every
    later test needs."""
    if connection.vendor == "postgresql":
        with default_connection_on_a_new_database():
            yield
        return
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_to_migrate_back")
def test_existing_signing_grants_survive_the_move_to_approvals():
    old = _migrate(BEFORE)
    ContentType = old.get_model("contenttypes", "ContentType")
    Permission = old.get_model("auth", "Permission")
    team_type, _ = ContentType.objects.get_or_create(app_label="registry", model="team")
    sign_platform, _ = Permission.objects.get_or_create(
        content_type=team_type, codename="sign_as_platform", defaults={"name": "platform"}
    )
    sign_security, _ = Permission.objects.get_or_create(
        content_type=team_type, codename="sign_as_security", defaults={"name": "security"}
    )
    team = old.get_model("registry", "Team").objects.create(slug="vision", name="Vision")
    other = old.get_model("registry", "Team").objects.create(slug="speech", name="Speech")
    User = old.get_model("auth", "User")
    priya = User.objects.create(username="priya")
    sofia = User.objects.create(username="sofia")
    board = old.get_model("auth", "Group").objects.create(name="platform board")
    sofia.groups.add(board)
    old.get_model("guardian", "UserObjectPermission").objects.create(
        user=priya, permission=sign_security, content_type=team_type, object_pk=str(team.pk)
    )
    old.get_model("guardian", "GroupObjectPermission").objects.create(
        group=board, permission=sign_platform, content_type=team_type, object_pk=str(team.pk)
    )
    old.get_model("sso", "GroupRoleMapping").objects.create(
        idp_group="sec", team=team, permission="registry.sign_as_security"
    )
    old.get_model("sso", "GroupRoleMapping").objects.create(
        idp_group="mgr", team=team, permission="registry.manage_governance"
    )

    _migrate(AFTER)
    # Then each grant holds under the new role, on the same team only
    from django.contrib.auth import get_user_model

    from registry.models import Team
    from sso.models import GroupRoleMapping

    people = get_user_model().objects
    team, other = Team.objects.get(slug="vision"), Team.objects.get(slug="speech")
    priya, sofia = people.get(username="priya"), people.get(username="sofia")
    assert permissions.roles_held(priya, team) == ["security"]
    assert permissions.roles_held(sofia, team) == ["platform"]
    assert allowed(sofia, Verb.SIGN, team, role="platform")
    assert not allowed(priya, Verb.SIGN, other, role="security")
    assert sorted(GroupRoleMapping.objects.values_list("permission", flat=True)) == [
        "approvals.sign_as_security",
        "registry.manage_governance",
    ]
    # And no registry-owned signing permission is left behind
    from django.contrib.auth.models import Permission as LivePermission

    assert not LivePermission.objects.filter(
        content_type__app_label="registry", codename__startswith="sign_as_"
    ).exists()
