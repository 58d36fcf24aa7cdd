"""Incidents in the browser: searchable by id, tag and title prefix, filtered, with their
timeline; a fixed number of queries at 20 and 200 incidents; other teams' are not shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from approvals.services.incidents import incident_note, incident_open
from tests.registry.factories import TeamFactory, UserFactory, team_member
from tests.releases.factories import ReleaseFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def open_incidents(release, engineer, n, *, tags=("latency",), start=0):
    return [
        incident_open(
            actor=engineer,
            release=release,
            title=f"Slow answers {start + i}",
            severity="sev3",
            tags=list(tags),
            now=NOW - timedelta(minutes=start + i),
        )
        for i in range(n)
    ]


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def release():
    return ReleaseFactory(team=TeamFactory())


@pytest.fixture
def engineer(release):
    return team_member(release.team, "register_versions")


def test_the_incident_list_runs_the_same_queries_for_20_and_200_incidents(release, engineer):
    browser = browser_for(engineer)
    counts = []
    for total in (20, 200):
        open_incidents(release, engineer, total - len(counts and [0] * 20), start=len(counts) * 20)
        browser.get("/admin/approvals/incident/")  # warm per-session caches
        with CaptureQueriesContext(connection) as queries:
            response = browser.get("/admin/approvals/incident/")
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_search_finds_an_incident_by_its_id_by_a_tag_and_by_a_title_prefix(release, engineer):
    (slow,) = open_incidents(release, engineer, 1, tags=("latency",))
    drift = incident_open(
        actor=engineer, release=release, title="Drift on EU", severity="sev2", tags=["data-drift"]
    )
    browser = browser_for(engineer)

    def found(term):
        response = browser.get("/admin/approvals/incident/", {"q": term})
        return {row.pk for row in response.context["cl"].result_list}

    assert found(f"INC-{drift.pk}") == {drift.pk}
    assert found(str(slow.pk)) == {slow.pk}
    assert found("data-drift") == {drift.pk}
    assert found("Slow answers") == {slow.pk}
    assert found("answers") == set()  # a prefix, not a substring: no scan


def test_an_incident_page_shows_its_timeline(release, engineer):
    incident = incident_open(actor=engineer, release=release, title="Timeouts", severity="sev2")
    incident_note(actor=engineer, incident=incident, text="Rolled back the threshold.")

    response = browser_for(engineer).get(f"/admin/approvals/incident/{incident.pk}/change/")

    assert response.status_code == 200
    assert b"Rolled back the threshold." in response.content


def test_another_teams_member_sees_none_of_the_incidents(release, engineer):
    incident = incident_open(actor=engineer, release=release, title="Timeouts", severity="sev2")
    outsider = team_member(TeamFactory(), "register_versions")
    browser = browser_for(outsider)

    assert browser.get("/admin/approvals/incident/").context["cl"].result_list.__len__() == 0
    page = browser.get(f"/admin/approvals/incident/{incident.pk}/change/")
    assert page.status_code in (302, 404)


def test_nobody_adds_changes_or_deletes_an_incident_in_the_admin(release, engineer):
    incident = incident_open(actor=engineer, release=release, title="Timeouts", severity="sev2")
    browser = browser_for(UserFactory(is_superuser=True))

    assert browser.get("/admin/approvals/incident/add/").status_code == 403
    assert browser.post(f"/admin/approvals/incident/{incident.pk}/delete/").status_code == 403
    incident.refresh_from_db()
    assert incident.title == "Timeouts"
