"""The admin reads the teams a person may see once per request, and never longer: a role
granted or revoked shows on the next page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory

from core import permissions
from core.admin_scoping import sees_any_team, visible_teams
from tests.registry.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

VIEWER_ROLE = "registry.view_team_registry"


def version_viewer():
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    return user


def team_filter_choices(response) -> list[str]:
    [team_filter] = [spec for spec in response.context["cl"].filter_specs if spec.title == "team"]
    return [value for value, _ in team_filter.lookup_choices]


def test_the_teams_are_read_once_per_request(django_assert_num_queries):
    # Given a person who sees one of two teams
    assistants, _ = TeamFactory(slug="assistants"), TeamFactory(slug="vision")
    user = version_viewer()
    permissions.grant_team_role(user, VIEWER_ROLE, assistants)
    request = RequestFactory().get("/admin/")
    request.user = user

    # When the page's filters ask, and then its sidebar
    first = visible_teams(request)
    with django_assert_num_queries(0):
        second = visible_teams(request)
        sees = sees_any_team(request)

    # Then the first answer serves the rest of the request
    assert [team.slug for team in first] == ["assistants"]
    assert second is first
    assert sees is True


def test_a_new_request_asks_again():
    # Given a person without any team role, whose request has been answered
    team = TeamFactory(slug="assistants")
    user = version_viewer()
    earlier = RequestFactory().get("/admin/")
    earlier.user = user
    assert sees_any_team(earlier) is False

    # When a role is granted and another request asks
    permissions.grant_team_role(user, VIEWER_ROLE, team)
    later = RequestFactory().get("/admin/")
    later.user = user

    # Then the new request sees the team (the earlier one keeps its own answer)
    assert sees_any_team(later) is True
    assert [t.slug for t in visible_teams(later)] == ["assistants"]
    assert visible_teams(earlier) == []


def test_a_role_granted_or_revoked_shows_on_the_next_page():
    # Given a person who sees "assistants" only, on the version list's team filter
    assistants, vision = TeamFactory(slug="assistants"), TeamFactory(slug="vision")
    user = version_viewer()
    permissions.grant_team_role(user, VIEWER_ROLE, assistants)
    browser = Client()
    browser.force_login(user)
    assert team_filter_choices(browser.get("/admin/registry/modelversion/")) == ["assistants"]

    # When a role on "vision" is granted, the next page lists it
    permissions.grant_team_role(user, VIEWER_ROLE, vision)
    assert team_filter_choices(browser.get("/admin/registry/modelversion/")) == [
        "assistants",
        "vision",
    ]

    # And when the role on "assistants" is revoked, the next page no longer does
    permissions.revoke_team_role(user, VIEWER_ROLE, assistants)
    assert team_filter_choices(browser.get("/admin/registry/modelversion/")) == ["vision"]
