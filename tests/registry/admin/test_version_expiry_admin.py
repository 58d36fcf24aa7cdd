"""The version list's approval expiry: a column with the days left, a filter by window,
sorting, and a query count independent of how many versions exist."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from registry.admin.catalog import ModelVersionAdmin
from tests.registry.admin.owner_scenario import bulk_versions, owned_model, owner_of
from tests.registry.factories import ModelVersionFactory, TeamFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:registry_modelversion_changelist")
EXPIRY_COLUMN = ModelVersionAdmin.list_display.index("approval_expiry")


def listed(response) -> list[str]:
    return [version.version for version in response.context["cl"].result_list]


def test_the_list_filters_versions_expiring_within_7_days_and_says_how_many_days_are_left(
    client,
):
    # Given versions expiring in 2 and 12 days, and one already expired
    now = timezone.now()
    team = TeamFactory()
    owner = owner_of(team)
    model = owned_model(team, owner)
    bulk_versions(model, 1, expires_at=now + timedelta(days=2, hours=1), start=2)
    bulk_versions(model, 1, expires_at=now + timedelta(days=12), start=12)
    bulk_versions(model, 1, expires_at=now - timedelta(days=1), start=1)
    client.force_login(owner)

    # When the list is filtered to approvals expiring within 7 days
    response = client.get(CHANGELIST, {"expiry": "7"})

    # Then only the one expiring in 2 days is listed, with its days left in the column
    assert listed(response) == ["2.2.0"]
    assert "expires in 2 days" in response.content.decode()

    # And the expired filter lists only the expired one
    assert listed(client.get(CHANGELIST, {"expiry": "expired"})) == ["2.1.0"]


def test_the_expiry_column_sorts_the_list_by_when_approval_runs_out(client):
    # Given versions expiring in 30, 5 and 60 days
    now = timezone.now()
    team = TeamFactory()
    owner = owner_of(team)
    model = owned_model(team, owner)
    for days in (30, 5, 60):
        bulk_versions(model, 1, expires_at=now + timedelta(days=days), start=days)
    client.force_login(owner)

    # When the list is sorted by the expiry column, ascending then descending
    ascending = client.get(CHANGELIST, {"o": str(EXPIRY_COLUMN)})
    descending = client.get(CHANGELIST, {"o": f"-{EXPIRY_COLUMN}"})

    # Then the soonest comes first, and last when reversed
    assert listed(ascending) == ["2.5.0", "2.30.0", "2.60.0"]
    assert listed(descending) == ["2.60.0", "2.30.0", "2.5.0"]


def test_another_teams_version_page_is_not_shown(client):
    # Given an owner of one team and a version of another team
    owner = owner_of(TeamFactory())
    hidden = ModelVersionFactory()
    client.force_login(owner)

    # When they open the hidden version's page
    response = client.get(reverse("admin:registry_modelversion_change", args=[hidden.pk]))

    # Then it is not found (a redirect to the admin index with "doesn't exist" is Django's
    # answer for a missing object in a changelist's queryset)
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_the_version_list_runs_the_same_queries_at_20_and_at_2000_versions(client):
    # Given 20 versions expiring within 30 days
    expires = timezone.now() + timedelta(days=10)
    team = TeamFactory()
    owner = owner_of(team)
    model = owned_model(team, owner)
    bulk_versions(model, 20, expires_at=expires)
    client.force_login(owner)
    params = {"expiry": "30", "o": str(EXPIRY_COLUMN)}

    # When the filtered, sorted list is opened at 20 versions and then at 2,000
    with CaptureQueriesContext(connection) as at_20:
        small = client.get(CHANGELIST, params)
    bulk_versions(model, 1980, expires_at=expires, start=20)
    with CaptureQueriesContext(connection) as at_2000:
        large = client.get(CHANGELIST, params)

    # Then both pages list rows and ran the same number of queries
    assert len(listed(small)) == 20
    assert len(listed(large)) == ModelVersionAdmin.list_per_page
    assert len(at_20) == len(at_2000), [q["sql"] for q in at_2000]
