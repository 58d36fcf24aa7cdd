"""The model card's Releases and Incidents sections: the releases pinning the version
(state, rings entered, a link) and the incidents on them or on the version, newest first,
bounded, of the teams the reader sees, in the same queries at 2 and at 30 of each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals.choices import IncidentSeverity, IncidentSource, IncidentState
from approvals.models import Incident, RingEntry
from registry.choices import Ring
from registry.model_card import LATEST, model_card
from registry.models import Release
from tests.registry.admin.owner_scenario import owner_of
from tests.registry.factories import ModelVersionFactory, UserFactory
from tests.releases.factories import ReleaseFactory, bulk_releases

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)


def card_url(version) -> str:
    return reverse("admin:model_card", args=[version.pk])


def incident_on(release, *, title: str, hours: float, **fields) -> Incident:
    incident = Incident.objects.create(
        team=release.team if release else fields.pop("team"),
        release=release,
        title=title,
        severity=fields.pop("severity", IncidentSeverity.SEV2),
        state=fields.pop("state", IncidentState.OPEN),
        source=IncidentSource.PERSON,
        opened_by=UserFactory(),
        opened_at=NOW + timedelta(hours=hours),
        **fields,
    )
    return incident


def bulk_incidents(releases: list[Release], *, start: int = 0) -> None:
    """One incident per release in one INSERT (list fixtures only: no history)."""
    opener = UserFactory()
    Incident.objects.bulk_create(
        Incident(
            team=release.team,
            release=release,
            title=f"bulk incident {start + i}",
            severity=IncidentSeverity.SEV4,
            source=IncidentSource.PERSON,
            opened_by=opener,
            opened_at=NOW - timedelta(days=30, minutes=start + i),
        )
        for i, release in enumerate(releases)
    )


@pytest.fixture
def world():
    """A version of team A pinned by two of A's releases (one entered internal) and by a
    release of team B; incidents on each, and one naming the version without a release."""
    version = ModelVersionFactory(complete=True)
    team = version.registered_model.team
    older = ReleaseFactory(team=team, name="checkout", version="2.0.0", components=[version])
    newer = ReleaseFactory(team=team, name="checkout", version="2.1.0", components=[version])
    foreign = ReleaseFactory(name="payments-stack", components=[version])
    unrelated = ReleaseFactory(team=team, name="other-stack")
    entered_by = UserFactory()
    for ring in (Ring.OFFLINE_VALIDATION, Ring.INTERNAL):
        RingEntry.objects.create(
            release=older, environment="prod", ring=ring, entered_at=NOW, entered_by=entered_by
        )
    incidents = {
        "older": incident_on(older, title="latency spike", hours=1, severity=IncidentSeverity.SEV1),
        "naming": incident_on(
            None, title="drift on eu", hours=2, team=team, state=IncidentState.MITIGATED
        ),
        "foreign": incident_on(foreign, title="payments outage", hours=3),
        "unrelated": incident_on(unrelated, title="someone else's stack", hours=4),
    }
    incidents["naming"].versions.set([version])
    return {
        "version": version,
        "owner": owner_of(team),
        "older": older,
        "newer": newer,
        "foreign": foreign,
        "incidents": incidents,
    }


def test_the_card_lists_the_releases_pinning_the_version_newest_first_with_their_rings(world):
    # When the team's owner reads the card
    card = model_card(world["version"], viewer=world["owner"])

    # Then the team's two releases pinning it are listed, newest first; the other team's
    # release and the release not pinning it are not
    assert [(r.name, r.version) for r in card.releases] == [
        ("checkout", "2.1.0"),
        ("checkout", "2.0.0"),
    ]
    assert card.more_releases is False
    newer, older = card.releases
    assert (older.state_label, newer.rings) == ("Submitted", [])
    assert [(ring.environment, ring.ring_label) for ring in older.rings] == [
        ("prod", "Offline validation"),
        ("prod", "Internal"),
    ]


def test_the_card_lists_incidents_on_pinning_releases_or_naming_the_version_of_seen_teams(world):
    card = model_card(world["version"], viewer=world["owner"])

    # Then the incidents of the team's pinning release and the one naming the version are
    # listed newest first; the other team's and the unrelated release's are not
    assert [(i.title, i.severity_label, i.state_label, i.release) for i in card.incidents] == [
        ("drift on eu", "SEV2 (major)", "Mitigated", ""),
        ("latency spike", "SEV1 (critical)", "Open", "checkout 2.0.0"),
    ]
    assert card.more_incidents is False


def test_a_card_without_a_viewer_lists_no_releases_or_incidents_and_costs_two_queries(
    world, django_assert_num_queries
):
    with django_assert_num_queries(2):
        card = model_card(world["version"].pk)

    assert (card.releases, card.incidents) == ([], [])


def test_the_page_shows_both_sections_with_links_and_nothing_of_another_team(client, world):
    client.force_login(world["owner"])

    response = client.get(card_url(world["version"]))

    assert response.status_code == 200
    page = response.content.decode()
    releases = _section(page, "model-card-releases")
    assert f'href="/admin/registry/release/{world["newer"].pk}/change/"' in releases
    assert "Offline validation in prod" in releases and "Internal in prod" in releases
    assert "Submitted" in releases
    incidents = _section(page, "model-card-incidents")
    older = world["incidents"]["older"]
    assert f'href="/admin/approvals/incident/{older.pk}/change/"' in incidents
    assert f"INC-{older.pk}: latency spike" in incidents
    assert "SEV1 (critical)" in incidents and "Mitigated" in incidents
    # And nothing of team B's release or its incident appears anywhere on the page
    assert "payments-stack" not in page
    assert "payments outage" not in page
    assert "someone else&#x27;s stack" not in page
    assert 'id="more-releases"' not in page and 'id="more-incidents"' not in page


def test_the_other_teams_reader_sees_its_own_release_and_incident_on_the_shared_version(world):
    # Given a reader of team B only (the version is team A's: the card is read for them
    # here as a page of team A would be, to show the sections filter by the viewer)
    reader = owner_of(world["foreign"].team)

    card = model_card(world["version"], viewer=reader)

    assert [r.name for r in card.releases] == ["payments-stack"]
    assert [i.title for i in card.incidents] == ["payments outage"]


def test_the_page_runs_the_same_queries_with_2_and_30_releases_and_incidents(client):
    # Given a version pinned by 2 releases, each with an incident
    version = ModelVersionFactory(complete=True)
    team = version.registered_model.team
    actor = UserFactory()
    client.force_login(owner_of(team))
    first = bulk_releases(team, 2, actor=actor, pinned=version, prefix="small")
    bulk_incidents(first)
    with CaptureQueriesContext(connection) as at_2:
        small = client.get(card_url(version))

    # When 28 more releases and incidents pin it, every release in internal
    more = bulk_releases(team, 28, actor=actor, pinned=version, prefix="large")
    bulk_incidents(more, start=2)
    RingEntry.objects.bulk_create(
        RingEntry(
            release=r, environment="prod", ring=Ring.INTERNAL, entered_at=NOW, entered_by=actor
        )
        for r in first + more
    )
    with CaptureQueriesContext(connection) as at_30:
        large = client.get(card_url(version))

    # Then both pages make the same queries; the large one shows the newest LATEST of
    # each, and links to the whole list of releases
    assert len(at_2) == len(at_30), [q["sql"] for q in at_30]
    assert (len(small.context["card"].releases), len(small.context["card"].incidents)) == (2, 2)
    card = large.context["card"]
    assert (len(card.releases), card.more_releases) == (LATEST, True)
    assert (len(card.incidents), card.more_incidents) == (LATEST, True)
    newest = sorted(first + more, key=lambda r: (r.created_at, r.pk), reverse=True)[:LATEST]
    assert [r.release_id for r in card.releases] == [r.pk for r in newest]
    assert [i.title for i in card.incidents] == [f"bulk incident {n}" for n in range(LATEST)]
    assert all(r.rings and r.rings[0].ring == Ring.INTERNAL for r in card.releases)
    page = large.content.decode()
    link = f"/admin/registry/release/?components__model_version__id__exact={version.pk}"
    assert f'href="{link}"' in page


def test_the_more_link_lists_every_release_pinning_the_version(client):
    # Given 3 releases pinning a version and one that does not
    version = ModelVersionFactory(complete=True)
    team = version.registered_model.team
    actor = UserFactory()
    pinning = bulk_releases(team, 3, actor=actor, pinned=version, prefix="pins")
    ReleaseFactory(team=team, name="unpinned")
    client.force_login(owner_of(team))

    # When the changelist is filtered as the card's link filters it
    response = client.get(
        "/admin/registry/release/", {"components__model_version__id__exact": version.pk}
    )

    # Then it lists exactly the pinning releases
    assert response.status_code == 200
    listed = {r.pk for r in response.context["cl"].result_list}
    assert listed == {r.pk for r in pinning}


def _section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start : page.index("</section>", start)]


def test_the_incidents_link_lists_the_incidents_naming_the_version(client, world):
    # When the incident changelist is filtered as the card's "more" link filters it
    client.force_login(world["owner"])
    response = client.get(
        "/admin/approvals/incident/", {"versions__id__exact": world["version"].pk}
    )

    # Then it lists the incident naming the version
    assert response.status_code == 200
    listed = [i.title for i in response.context["cl"].result_list]
    assert listed == ["drift on eu"]
