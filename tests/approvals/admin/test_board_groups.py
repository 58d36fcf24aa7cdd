"""Every installation has a "Board members" and a "Governance managers" group (approvals
migration 0006): the admin's model view permissions, nothing that writes or signs. With
``setup_team`` putting people in them, a board member finds and signs her team's requests
in the admin and sees no other team's."""

from __future__ import annotations

import importlib
import io
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client, override_settings

from approvals.apps import (
    BOARD_GROUP,
    BOARD_VIEW_PERMISSIONS,
    MANAGER_GROUP,
    MANAGER_VIEW_PERMISSIONS,
    ROLE_GROUPS,
)
from registry.models import ModelVersion, RegisteredModel, Team
from tests.approvals.factories import request_in_review
from tests.registry.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()
CHANGELIST = "/admin/approvals/promotionrequest/"

# What a board member needs to find and review a request, spelled out (not read from the
# code under test, so a slip in the list shows here).
EXPECTED = {
    ("approvals", "view_promotionrequest"),
    ("approvals", "view_signoff"),
    ("approvals", "view_checkresult"),
    ("approvals", "view_checkexception"),
    ("approvals", "view_decisionrecord"),
    ("registry", "view_registeredmodel"),
    ("registry", "view_modelversion"),
    ("registry", "view_evidence"),
    ("registry", "view_vulnerabilityfinding"),
    ("registry", "view_findingtriage"),
    ("registry", "view_dataset"),
    ("registry", "view_datasetversion"),
    ("registry", "view_versiondataset"),
    ("registry", "view_deployment"),
}


def held(name: str) -> set[tuple[str, str]]:
    group = Group.objects.get(name=name)
    return set(group.permissions.values_list("content_type__app_label", "codename"))


def setup_team(*args: str) -> str:
    out = io.StringIO()
    call_command("setup_team", *args, "--admin=root", stdout=out)
    return out.getvalue()


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_url(request) -> str:
    return f"{CHANGELIST}{request.pk}/change/"


@pytest.fixture
def admin_user():
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def two_teams_requests(admin_user):
    """A request in review on the security team (set up by setup_team) and on another."""
    setup_team("security", "--member=alice=security", "--manager=carol", "--create-users")
    mine = request_in_review(registered_model__team=Team.objects.get(slug="security"))
    theirs = request_in_review(registered_model__team=TeamFactory(slug="elsewhere"))
    return mine, theirs


# --- the groups -----------------------------------------------------------------------


@pytest.mark.parametrize("name", [BOARD_GROUP, MANAGER_GROUP])
def test_after_migrate_each_group_holds_exactly_the_view_permissions_to_review(name):
    # Given a migrated database / Then the group exists with exactly the intended permissions
    permissions = held(name)
    assert permissions == EXPECTED
    # And nothing that adds, changes, deletes or signs, and no "see every team"
    assert all(codename.startswith("view_") for _, codename in permissions)
    assert not any(codename.startswith("sign_as_") for _, codename in permissions)
    assert ("registry", "view_team_registry") not in permissions
    # And none of the pages that are not restricted to the user's teams
    assert (
        not {
            ("approvals", "view_governancepolicy"),
            ("approvals", "view_trustedsigningkey"),
            ("approvals", "view_webhookendpoint"),
            ("auth", "view_user"),
        }
        & permissions
    )


def test_the_lists_are_written_once_for_the_migration_the_command_and_the_demo():
    assert ROLE_GROUPS == {
        BOARD_GROUP: BOARD_VIEW_PERMISSIONS,
        MANAGER_GROUP: MANAGER_VIEW_PERMISSIONS,
    }
    assert {tuple(p.split(".")) for p in BOARD_VIEW_PERMISSIONS} == EXPECTED


def test_the_migration_is_reversible():
    # Given the migration's two directions, run as migrate runs them
    name = "0006_board_and_manager_groups"
    migration = importlib.import_module(f"approvals.migrations.{name}")
    state_apps = MigrationLoader(connection).project_state(("approvals", name)).apps
    editor = SimpleNamespace(connection=connection)

    # When it is reversed, the groups are gone; applied again, they are back, exactly
    migration.remove_role_groups(state_apps, editor)
    assert not Group.objects.filter(name__in=ROLE_GROUPS).exists()
    migration.create_role_groups(state_apps, editor)
    assert held(BOARD_GROUP) == held(MANAGER_GROUP) == EXPECTED


def test_a_later_migrate_gives_back_a_listed_permission_and_adds_nothing_else():
    # Given a board group that lost one of its permissions
    group = Group.objects.get(name=BOARD_GROUP)
    group.permissions.remove(group.permissions.get(codename="view_deployment"))

    # When migrate finishes (its post_migrate signal)
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    # Then it holds exactly its list again
    assert held(BOARD_GROUP) == EXPECTED


# --- a board member set up by setup_team ----------------------------------------------


def test_a_member_set_up_by_setup_team_finds_opens_and_can_sign_her_teams_request(
    two_teams_requests,
):
    # Given alice, created by setup_team as the security team's security approver
    mine, theirs = two_teams_requests
    alice = User.objects.get(username="alice")
    assert alice.is_staff and alice.groups.filter(name=BOARD_GROUP).exists()
    client = logged_in(alice)

    # When she opens the admin's promotion requests
    assert client.get("/admin/").status_code == 200
    page = client.get(CHANGELIST)

    # Then her team's request is listed and the other team's is not
    assert page.status_code == 200
    assert [r.pk for r in page.context["cl"].result_list] == [mine.pk]

    # And its page opens with the sign button, the other team's page is not found
    detail = client.get(change_url(mine))
    assert detail.status_code == 200
    actions = {a["label"]: a["url"] for a in detail.context["service_actions"]}
    assert actions["Sign off"] == f"{CHANGELIST}{mine.pk}/sign/"
    assert "Expedite" not in actions
    assert f'href="{CHANGELIST}{mine.pk}/sign/"' in detail.content.decode()
    assert client.get(f"{CHANGELIST}{mine.pk}/sign/").status_code == 200
    assert client.get(change_url(theirs)).status_code == 302
    assert client.get(f"{CHANGELIST}{theirs.pk}/sign/").status_code == 404

    # And she opens the version under review, but not the other team's
    version_url = "/admin/registry/modelversion/{}/change/"
    assert client.get(version_url.format(mine.version.pk)).status_code == 200
    assert client.get(version_url.format(theirs.version.pk)).status_code == 302


def test_a_manager_set_up_by_setup_team_sees_the_request_and_the_expedite_button(
    two_teams_requests,
):
    # Given carol, created by setup_team as the security team's governance manager
    mine, theirs = two_teams_requests
    carol = User.objects.get(username="carol")
    assert carol.is_staff and carol.groups.filter(name=MANAGER_GROUP).exists()
    client = logged_in(carol)

    # Then she sees her team's request (only) and its expedite button; no override, as
    # every check passed (issue 11: the button shows only where a check can be excepted)
    page = client.get(CHANGELIST)
    assert [r.pk for r in page.context["cl"].result_list] == [mine.pk]
    detail = client.get(change_url(mine))
    assert detail.status_code == 200
    actions = {a["label"]: a["url"] for a in detail.context["service_actions"]}
    assert actions["Expedite"] == f"{CHANGELIST}{mine.pk}/expedite/"
    assert "Grant exception" not in actions
    assert "Sign off" not in actions  # managing is not signing
    assert client.get(actions["Expedite"]).status_code == 200
    assert client.get(f"{CHANGELIST}{theirs.pk}/expedite/").status_code == 404


# --- refusals -------------------------------------------------------------------------


def test_a_board_member_without_a_team_role_sees_an_empty_list_and_no_request(
    two_teams_requests,
):
    # Given someone in the board group who holds no role on any team
    mine, theirs = two_teams_requests
    nobody = UserFactory()
    nobody.groups.add(Group.objects.get(name=BOARD_GROUP))
    client = logged_in(nobody)

    # Then the list opens empty and no request's page exists for her
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert page.context["cl"].result_count == 0
    assert list(page.context["cl"].result_list) == []
    for request in (mine, theirs):
        response = client.get(change_url(request), follow=True)
        assert response.redirect_chain[-1][0] == "/admin/"  # Django: "does not exist"
        assert client.get(f"{CHANGELIST}{request.pk}/sign/").status_code == 404


def test_another_teams_request_page_is_not_found_for_a_board_member(two_teams_requests):
    # Given alice, a board member of the security team
    _, theirs = two_teams_requests
    client = logged_in(User.objects.get(username="alice"))

    # When she opens the other team's request (Django's admin redirects a missing object
    # to the index with a "does not exist" message: the admin's 404)
    response = client.get(change_url(theirs))

    # Then it does not exist for her: nothing of the request is shown
    assert response.status_code == 302 and response.url == "/admin/"
    followed = client.get(change_url(theirs), follow=True)
    assert "doesn\u2019t exist" in followed.content.decode()  # Django's curly quote
    assert theirs.version.registered_model.name not in followed.content.decode()


# --- what the groups must not expose: other teams' history, reverts, team names -------


def test_another_teams_history_pages_do_not_exist_for_a_board_member(two_teams_requests):
    _, theirs = two_teams_requests
    client = logged_in(User.objects.get(username="alice"))
    version = theirs.version
    record = ModelVersion.history.filter(id=version.pk).earliest("history_id")
    assert client.get(f"{CHANGELIST}{theirs.pk}/history/").status_code in (302, 404)
    page = client.get(f"/admin/registry/modelversion/{version.pk}/history/{record.history_id}/")
    assert version.checksum not in page.content.decode()


def test_a_board_member_cannot_revert_a_record_from_its_history_page(two_teams_requests):
    # Given another team's model whose description changed once
    _, theirs = two_teams_requests
    registered = theirs.version.registered_model
    RegisteredModel.objects.filter(pk=registered.pk).update(description="")
    registered.refresh_from_db()
    registered.description = "Current description."
    registered.save()
    first = RegisteredModel.history.filter(id=registered.pk).earliest("history_id")
    client = logged_in(User.objects.get(username="alice"))

    # When she posts the history page of the first version
    response = client.post(
        f"/admin/registry/registeredmodel/{registered.pk}/history/{first.history_id}/"
    )

    # Then it is refused and nothing changed
    assert response.status_code == 405
    registered.refresh_from_db()
    assert registered.description == "Current description."


def test_the_team_filter_names_only_her_teams(two_teams_requests):
    client = logged_in(User.objects.get(username="alice"))
    assert "elsewhere" not in client.get(CHANGELIST).content.decode()


# --- the demo -------------------------------------------------------------------------


@override_settings(GOVBOARD_DEMO=True, DEBUG=True)
def test_the_demo_people_are_in_the_migrations_groups_unchanged():
    # Given the migration's groups / When the demo loads
    groups = {name: Group.objects.get(name=name).pk for name in ROLE_GROUPS}
    call_command("load_demo", stdout=io.StringIO())

    # Then its approvers and manager are in those same groups, with the same permissions
    assert {name: Group.objects.get(name=name).pk for name in ROLE_GROUPS} == groups
    assert held(BOARD_GROUP) == held(MANAGER_GROUP) == EXPECTED
    assert User.objects.get(username="priya").groups.get().name == BOARD_GROUP
    assert User.objects.get(username="maria").groups.get().name == MANAGER_GROUP


def test_her_own_teams_history_is_readable_but_never_revertible(two_teams_requests):
    # Given her own team's model with two history rows
    mine, _ = two_teams_requests
    registered = mine.version.registered_model
    registered.description = "Changed once."
    registered.save()
    first = RegisteredModel.history.filter(id=registered.pk).earliest("history_id")
    client = logged_in(User.objects.get(username="alice"))

    # When she reads the history and posts a "revert" of the first row
    listing = client.get(f"/admin/registry/registeredmodel/{registered.pk}/history/")
    page = client.get(
        f"/admin/registry/registeredmodel/{registered.pk}/history/{first.history_id}/"
    )
    posted = client.post(
        f"/admin/registry/registeredmodel/{registered.pk}/history/{first.history_id}/"
    )

    # Then she can read both pages, and the revert is refused with nothing changed
    assert (listing.status_code, page.status_code, posted.status_code) == (200, 200, 405)
    registered.refresh_from_db()
    assert registered.description == "Changed once."
