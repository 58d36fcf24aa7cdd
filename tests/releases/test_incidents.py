"""Incidents opened by a person, worked on a timeline and resolved with a retrospective."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from approvals.choices import IncidentState
from approvals.models import Incident, IncidentTimelineEntry
from approvals.services.incidents import (
    incident_mitigate,
    incident_note,
    incident_open,
    incident_resolve,
    incident_update,
)
from audit.models import AuditEvent
from audit.verbs import AuditVerb
from core.errors import IllegalTransition, InvalidInput, NotPermitted
from tests.registry.factories import TeamFactory, team_member
from tests.releases.factories import ReleaseFactory, anchor_version

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def release():
    return ReleaseFactory(team=TeamFactory())


@pytest.fixture
def engineer(release):
    return team_member(release.team, "register_versions")


def opened(release, engineer, **fields):
    return incident_open(
        actor=engineer,
        release=release,
        title="Declines doubled on mobile",
        severity="sev2",
        summary="Support saw it first.",
        versions=[anchor_version(release)],
        tags=["mobile", "Declines"],
        now=NOW,
        **fields,
    )


def counts():
    return (
        Incident.objects.count(),
        IncidentTimelineEntry.objects.count(),
        AuditEvent.objects.count(),
    )


def test_a_person_opens_an_incident_on_a_release_with_tags_and_versions(release, engineer):
    incident = opened(release, engineer)
    assert (incident.team, incident.source, incident.state, incident.blocks_promotion) == (
        release.team,
        "person",
        IncidentState.OPEN,
        True,
    )
    assert sorted(t.name for t in incident.tags.all()) == ["declines", "mobile"]
    assert list(incident.versions.all()) == [anchor_version(release)]
    assert AuditEvent.objects.get(verb=AuditVerb.INCIDENT_OPENED).team_id == release.team_id


def test_a_viewer_or_another_team_may_not_open_and_nothing_changes(release):
    outsiders = (
        team_member(release.team, "view_team_registry"),
        team_member(TeamFactory(), "register_versions"),
    )
    before = counts()
    for outsider in outsiders:
        with pytest.raises(NotPermitted):
            opened(release, outsider)
    assert counts() == before


def test_a_bad_severity_or_tag_is_refused_with_nothing_changed(release, engineer):
    before = counts()
    with pytest.raises(InvalidInput):
        incident_open(actor=engineer, release=release, title="x", severity="sev9", now=NOW)
    with pytest.raises(InvalidInput):
        incident_open(
            actor=engineer, release=release, title="x", severity="sev1", tags=["a b"], now=NOW
        )
    assert counts() == before


def test_an_update_is_audited_with_the_changed_fields_before_and_after(release, engineer):
    incident = opened(release, engineer)
    incident_update(actor=engineer, incident=incident, severity="sev1", tags=["mobile"], now=NOW)
    event = AuditEvent.objects.get(verb=AuditVerb.INCIDENT_UPDATED)
    assert event.data == {
        "before": {"severity": "sev2", "tags": ["declines", "mobile"]},
        "after": {"severity": "sev1", "tags": ["mobile"]},
    }


def test_notes_mitigation_and_resolution_write_the_timeline_and_unblock(release, engineer):
    incident = opened(release, engineer)
    incident_note(actor=engineer, incident=incident, text="Rolled the flag back.", now=NOW)
    incident_mitigate(actor=engineer, incident=incident, now=NOW)
    incident = incident_resolve(
        actor=engineer,
        incident=incident,
        retrospective="The threshold was tuned on web traffic only; mobile differs.",
        contributing_factors=["no mobile holdout in evaluation"],
        now=NOW,
    )
    assert incident.state == IncidentState.RESOLVED
    assert incident.resolved_at == NOW
    assert incident.timeline.count() == 4
    assert not Incident.objects.filter(
        release=release, state__in=["open", "mitigated"], blocks_promotion=True
    ).exists()


@pytest.mark.parametrize(
    ("retrospective", "factors", "field"),
    [("  ", ["a factor"], "retrospective"), ("What happened.", [], "contributing_factors")],
)
def test_resolving_without_a_retrospective_or_a_factor_is_refused_with_nothing_changed(
    release, engineer, retrospective, factors, field
):
    incident = opened(release, engineer)
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        incident_resolve(
            actor=engineer,
            incident=incident,
            retrospective=retrospective,
            contributing_factors=factors,
            now=NOW,
        )
    assert field in refused.value.errors
    assert counts() == before
    incident.refresh_from_db()
    assert incident.state == IncidentState.OPEN


def test_a_resolved_incident_is_not_mitigated_or_resolved_again(release, engineer):
    incident = opened(release, engineer)
    incident_resolve(
        actor=engineer,
        incident=incident,
        retrospective="Known.",
        contributing_factors=["x"],
        now=NOW,
    )
    before = counts()
    with pytest.raises(IllegalTransition):
        incident_mitigate(actor=engineer, incident=incident, now=NOW)
    with pytest.raises(IllegalTransition):
        incident_resolve(
            actor=engineer, incident=incident, retrospective="a", contributing_factors=["b"]
        )
    assert counts() == before
