"""The release admin: read-only pages with fixed query counts, and the Withdraw button."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry.choices import ReleaseState
from tests.registry.factories import team_member
from tests.releases.factories import ReleaseFactory

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_changelist_reads_the_same_number_of_queries_at_20_and_200_releases(admin_client):
    url = reverse("admin:registry_release_changelist")
    ReleaseFactory.create_batch(20, components=[])
    small = _queries(admin_client, url)
    ReleaseFactory.create_batch(180, components=[])
    assert _queries(admin_client, url) == small


def test_the_changelist_finds_a_release_by_name_and_version(admin_client):
    release = ReleaseFactory(components=[])
    ReleaseFactory(components=[])
    url = reverse("admin:registry_release_changelist")
    response = admin_client.get(url, {"q": f"{release.name} {release.version}"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [release]


def test_the_change_page_shows_the_notes_and_categories(admin_client):
    release = ReleaseFactory(
        change_categories=[{"category": "threshold", "why": "only the decline threshold"}]
    )
    url = reverse("admin:registry_release_change", args=[release.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert b"only the decline threshold" in response.content
    assert b"Raised the decline threshold." in response.content


def _registrant_client(client, release):
    client.force_login(team_member(release.team, "register_versions", is_staff=True))
    return client


def test_withdraw_through_the_page_withdraws_the_release(client):
    release = ReleaseFactory(components=[])
    admin_client = _registrant_client(client, release)
    url = reverse("admin:registry_release_withdraw", args=[release.pk])
    admin_client.post(url, {"reason": "superseded"})
    release.refresh_from_db()
    assert release.state == ReleaseState.WITHDRAWN


def test_withdraw_with_a_blank_reason_changes_nothing(client):
    release = ReleaseFactory(components=[])
    admin_client = _registrant_client(client, release)
    url = reverse("admin:registry_release_withdraw", args=[release.pk])
    response = admin_client.post(url, {"reason": ""})
    assert response.status_code == 200
    release.refresh_from_db()
    assert release.state == ReleaseState.SUBMITTED


def test_a_user_of_another_team_cannot_withdraw(client):
    release = ReleaseFactory(components=[])
    other = ReleaseFactory(components=[])
    client.force_login(team_member(other.team, "register_versions", is_staff=True))
    url = reverse("admin:registry_release_withdraw", args=[release.pk])
    response = client.post(url, {"reason": "superseded"})
    assert response.status_code in (403, 404)
    release.refresh_from_db()
    assert release.state == ReleaseState.SUBMITTED


def test_the_changelists_rows_load_only_the_columns_it_shows(admin_client):
    # Given a release
    release = ReleaseFactory(components=[])

    # When the list is opened
    response = admin_client.get(reverse("admin:registry_release_changelist"))

    # Then its row names it, its team and categories, and left the manifest, triggers and
    # texts in the database
    (row,) = response.context["cl"].result_list
    assert {"manifest", "rollback_triggers", "what_changed", "known_risks"} <= (
        row.get_deferred_fields()
    )
    html = response.content.decode()
    assert release.name in html and release.version in html and release.team.slug in html
