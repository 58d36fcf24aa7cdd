"""Incidents worked in the browser (issue 13): the incident page's buttons (note, edit,
mitigate, resolve) and the release page's "Open incident" call the incident services; a
wrong role is refused and bad input is a form error, with nothing changed."""

from __future__ import annotations

import pytest
from django.test import Client

from approvals.choices import IncidentSource, IncidentState
from approvals.models import Incident, IncidentTimelineEntry
from approvals.services.incidents import incident_mitigate, incident_open
from audit.models import AuditEvent
from audit.verbs import AuditVerb
from tests.registry.factories import TeamFactory, team_member
from tests.releases.factories import ReleaseFactory, anchor_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def release():
    return ReleaseFactory(team=TeamFactory())


@pytest.fixture
def engineer(release):
    return team_member(release.team, "register_versions")


@pytest.fixture
def incident(release, engineer):
    return incident_open(
        actor=engineer, release=release, title="Declines up", severity="sev3", tags=["mobile"]
    )


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def button(incident: Incident, name: str) -> str:
    return f"/admin/approvals/incident/{incident.pk}/{name}/"


def unchanged(incident: Incident) -> tuple:
    """Everything a refused or invalid button must leave as it was."""
    incident.refresh_from_db()
    return (
        incident.state,
        incident.title,
        incident.severity,
        incident.retrospective,
        list(incident.contributing_factors),
        sorted(t.name for t in incident.tags.all()),
        IncidentTimelineEntry.objects.filter(incident=incident).count(),
        Incident.objects.count(),
        AuditEvent.objects.count(),
    )


def test_the_incident_page_offers_the_buttons_its_state_allows(incident, engineer):
    browser = browser_for(engineer)
    page = browser.get(f"/admin/approvals/incident/{incident.pk}/change/").content.decode()
    for name in ("note", "edit", "mitigate", "resolve"):
        assert f'href="{button(incident, name)}"' in page

    incident_mitigate(actor=engineer, incident=incident)
    page = browser.get(f"/admin/approvals/incident/{incident.pk}/change/").content.decode()
    assert f'href="{button(incident, "mitigate")}"' not in page
    assert f'href="{button(incident, "resolve")}"' in page


def test_a_note_goes_on_the_timeline(incident, engineer):
    response = browser_for(engineer).post(button(incident, "note"), {"text": "Paged on-call."})

    assert response.status_code == 302
    assert incident.timeline.filter(text="Paged on-call.", author=engineer).exists()


def test_edit_changes_title_severity_and_tags_through_the_service(incident, engineer):
    response = browser_for(engineer).post(
        button(incident, "edit"),
        {"title": "Declines up on mobile", "severity": "sev1", "tags": "mobile, android"},
    )

    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.title, incident.severity) == ("Declines up on mobile", "sev1")
    assert sorted(t.name for t in incident.tags.all()) == ["android", "mobile"]
    event = AuditEvent.objects.get(verb=AuditVerb.INCIDENT_UPDATED)
    assert event.data["after"]["severity"] == "sev1"


def test_an_edit_form_starts_from_what_is_known(incident, engineer):
    form = browser_for(engineer).get(button(incident, "edit")).context["form"]
    assert form.initial["title"] == "Declines up"
    assert form.initial["tags"] == "mobile"


def test_a_tag_that_is_no_slug_is_a_form_error_and_changes_nothing(incident, engineer):
    before = unchanged(incident)
    response = browser_for(engineer).post(
        button(incident, "edit"), {"title": "Declines up", "severity": "sev1", "tags": "mo/bile"}
    )
    assert response.status_code == 200
    assert "is not a slug" in response.content.decode()
    assert unchanged(incident) == before


def test_mitigate_then_resolve_with_a_retrospective_and_factors(incident, engineer):
    browser = browser_for(engineer)
    assert browser.post(button(incident, "mitigate"), {"text": "Flag off."}).status_code == 302
    response = browser.post(
        button(incident, "resolve"),
        {
            "retrospective": "Tuned on web traffic only.",
            "contributing_factors": "no mobile holdout\n\nthreshold shipped alone\n",
        },
    )

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED
    assert incident.contributing_factors == ["no mobile holdout", "threshold shipped alone"]
    assert incident.retrospective == "Tuned on web traffic only."


def test_resolving_without_a_factor_is_a_form_error_and_changes_nothing(incident, engineer):
    before = unchanged(incident)
    response = browser_for(engineer).post(
        button(incident, "resolve"),
        {"retrospective": "Tuned on web traffic only.", "contributing_factors": "\n \n"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["contributing_factors"]
    assert unchanged(incident) == before


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("note", {"text": "Paged on-call."}),
        ("edit", {"title": "Renamed", "severity": "sev1", "tags": ""}),
        ("mitigate", {"text": "Flag off."}),
        ("resolve", {"retrospective": "Done.", "contributing_factors": "a factor"}),
    ],
)
def test_a_viewer_of_the_team_is_refused_every_button_and_nothing_changes(incident, name, form):
    viewer = team_member(incident.team, "view_team_registry")
    before = unchanged(incident)

    response = browser_for(viewer).post(button(incident, name), form)

    assert response.status_code == 403
    assert unchanged(incident) == before


def test_another_teams_registrant_finds_no_such_incident(incident):
    outsider = team_member(TeamFactory(), "register_versions")
    before = unchanged(incident)

    response = browser_for(outsider).post(button(incident, "note"), {"text": "Hi."})

    assert response.status_code in (302, 404)
    assert unchanged(incident) == before


def test_a_resolved_incident_takes_notes_but_no_edit(incident, engineer):
    browser = browser_for(engineer)
    browser.post(
        button(incident, "resolve"),
        {"retrospective": "Tuned on web only.", "contributing_factors": "no holdout"},
    )
    before = unchanged(incident)

    refused = browser.post(button(incident, "edit"), {"title": "New", "severity": "sev1"})

    assert refused.status_code == 403
    assert unchanged(incident) == before
    assert browser.post(button(incident, "note"), {"text": "Follow-up."}).status_code == 302


def test_a_person_opens_an_incident_from_the_release_page(release, engineer):
    version = anchor_version(release)
    response = browser_for(engineer).post(
        f"/admin/registry/release/{release.pk}/open_incident/",
        {
            "title": "Declines up on mobile",
            "severity": "sev2",
            "summary": "Support tickets doubled.",
            "versions": [version.pk],
            "tags": "mobile",
            "blocks_promotion": "on",
        },
    )

    assert response.status_code == 302
    incident = Incident.objects.get(release=release)
    assert incident.source == IncidentSource.PERSON
    assert incident.opened_by == engineer
    assert list(incident.versions.all()) == [version]
    assert incident.blocks_promotion
    assert AuditEvent.objects.filter(verb=AuditVerb.INCIDENT_OPENED).count() == 1


def test_the_release_page_offers_open_incident_once_and_only_to_those_who_may(release, engineer):
    url = f"/admin/registry/release/{release.pk}/change/"
    link = f'href="/admin/registry/release/{release.pk}/open_incident/"'
    assert browser_for(engineer).get(url).content.decode().count(link) == 1
    viewer = team_member(release.team, "view_team_registry")
    assert link not in browser_for(viewer).get(url).content.decode()


def test_a_viewer_cannot_open_an_incident_and_nothing_is_written(release):
    viewer = team_member(release.team, "view_team_registry")
    events = AuditEvent.objects.count()

    response = browser_for(viewer).post(
        f"/admin/registry/release/{release.pk}/open_incident/",
        {"title": "Declines up", "severity": "sev2"},
    )

    assert response.status_code == 403
    assert not Incident.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_version_of_another_release_cannot_be_named(release, engineer):
    stranger = anchor_version(ReleaseFactory())
    response = browser_for(engineer).post(
        f"/admin/registry/release/{release.pk}/open_incident/",
        {"title": "Declines up", "severity": "sev2", "versions": [stranger.pk]},
    )
    assert response.status_code == 200
    assert not Incident.objects.exists()
