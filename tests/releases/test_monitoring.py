"""Monitoring reports: strict uploads, rollback triggers judged on each, and the one
incident a breach opens (with the rollback owner told)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from approvals.choices import IncidentSeverity, IncidentSource, IncidentState
from approvals.models import (
    Incident,
    IncidentTimelineEntry,
    MonitoringReport,
    Notification,
    WebhookDelivery,
)
from approvals.services.monitoring import monitoring_report_upload
from audit.models import AuditEvent
from audit.verbs import AuditVerb
from core.errors import Conflict, InvalidInput, NotPermitted
from tests.approvals.factories import PromotionRequestFactory, WebhookEndpointFactory, ci_user
from tests.registry.factories import TeamFactory, UserFactory, team_member
from tests.releases.factories import ReleaseFactory, anchor_version

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TRIGGERS = [
    {
        "name": "p95 latency",
        "metric": "latency_p95_ms",
        "max": 250,
        "severity": "sev2",
        "blocks_promotion": True,
    },
    {
        "name": "retry spike",
        "metric": "retry_rate",
        "max_increase": 0.5,
        "severity": "sev3",
        "blocks_promotion": False,
    },
    {
        "name": "protected segment",
        "metric": "segment_quality",
        "max_drop": 0.05,
        "severity": "sev1",
        "blocks_promotion": True,
    },
]


def entered(release, *, environment="prod", ring="guarded", triggers=TRIGGERS):
    """The release entered ``ring``: a ring entry whose request's snapshot holds ``triggers``."""
    from approvals.models import RingEntry

    request = PromotionRequestFactory(
        version=anchor_version(release),
        release=release,
        environment=environment,
        target_ring=ring,
    )
    request.policy_snapshot = {**request.policy_snapshot, "rollback_triggers": triggers}
    request.save()
    return RingEntry.objects.create(
        release=release,
        environment=environment,
        ring=ring,
        request=request,
        entered_at=NOW - timedelta(days=3),
        entered_by=UserFactory(),
    )


def body(hours_ago=1, **overrides):
    end = NOW - timedelta(hours=hours_ago)
    payload = {
        "window_start": (end - timedelta(hours=1)).isoformat(),
        "window_end": end.isoformat(),
        "request_volume": 12000,
        "latency_p95_ms": 180.0,
        "retry_rate": 0.02,
        "disagreement_rate": 0.01,
        "segments": {
            "eu": {"quality": 0.91, "protected": True, "baseline": 0.92},
            "trial": {"quality": 0.70, "protected": False, "baseline": 0.90},
        },
        "drift_scores": {"amount": 0.05},
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def release():
    team = TeamFactory()
    owner = UserFactory(email="rollback.owner@example.com")
    release = ReleaseFactory(team=team, rollback_owner=owner)
    entered(release)
    ci_user(team)  # the team's CI exists before anything is counted
    return release


def upload(release, payload, *, actor=None, ring="guarded", environment="prod"):
    return monitoring_report_upload(
        actor=actor or ci_user(release.team),
        release=release,
        environment=environment,
        ring=ring,
        payload=payload,
        now=NOW,
    )


def counts():
    return {
        "reports": MonitoringReport.objects.count(),
        "incidents": Incident.objects.count(),
        "timeline": IncidentTimelineEntry.objects.count(),
        "notifications": Notification.objects.count(),
        "events": AuditEvent.objects.count(),
    }


def test_a_clean_report_is_stored_with_no_breach_and_opens_no_incident(release):
    result = upload(release, body())
    assert result.created and result.incident is None
    assert result.report.breaches == []
    assert Incident.objects.count() == 0
    event = AuditEvent.objects.get(verb=AuditVerb.MONITORING_REPORT_UPLOADED)
    uploaded = event.data["after"]
    assert (uploaded["breaches"], uploaded["body_sha256"]) == (0, result.report.body_sha256)


def test_a_p95_latency_breach_opens_one_blocking_incident_and_tells_the_rollback_owner(
    release, django_capture_on_commit_callbacks
):
    WebhookEndpointFactory(events=[AuditVerb.INCIDENT_OPENED])
    with django_capture_on_commit_callbacks(execute=True):
        result = upload(release, body(latency_p95_ms=312.0))
    [breach] = result.report.breaches
    assert (breach["trigger"], breach["observed"], breach["limit"]) == ("p95 latency", 312.0, 250)
    incident = Incident.objects.get()
    assert result.incident == incident
    assert (incident.severity, incident.blocks_promotion, incident.state) == (
        IncidentSeverity.SEV2,
        True,
        IncidentState.OPEN,
    )
    assert (incident.source, incident.monitoring_report, incident.release) == (
        IncidentSource.BREACH,
        result.report,
        release,
    )
    assert incident.trigger == {"breaches": result.report.breaches}
    assert list(incident.versions.all()) == [anchor_version(release)]
    assert incident.timeline.count() == 2  # opened, rollback owner notified
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {
        AuditVerb.MONITORING_REPORT_UPLOADED,
        AuditVerb.INCIDENT_OPENED,
        AuditVerb.INCIDENT_ROLLBACK_OWNER_NOTIFIED,
    } <= verbs
    notification = Notification.objects.get()
    assert notification.recipients == ["rollback.owner@example.com"]
    assert WebhookDelivery.objects.filter(verb=AuditVerb.INCIDENT_OPENED).count() == 1
    # the nudge on commit ran the relay: the email went out through the outbox
    assert [m.to for m in mail.outbox] == [["rollback.owner@example.com"]]
    assert f"INC-{incident.pk}" in mail.outbox[0].subject


def test_a_retry_rate_spike_against_the_previous_report_opens_a_non_blocking_incident(release):
    upload(release, body(hours_ago=3, retry_rate=0.02))
    result = upload(release, body(hours_ago=1, retry_rate=0.05))
    [breach] = result.report.breaches
    assert (breach["trigger"], breach["previous"], breach["increase"]) == ("retry spike", 0.02, 1.5)
    incident = Incident.objects.get()
    assert (incident.severity, incident.blocks_promotion) == ("sev3", False)


def test_a_protected_segment_dropping_below_its_baseline_breaches_and_an_unprotected_one_does_not(
    release,
):
    segments = {
        "eu": {"quality": 0.80, "protected": True, "baseline": 0.92},
        "trial": {"quality": 0.50, "protected": False, "baseline": 0.90},
    }
    result = upload(release, body(segments=segments))
    assert [(b["trigger"], b["segment"]) for b in result.report.breaches] == [
        ("protected segment", "eu")
    ]
    assert Incident.objects.get().severity == "sev1"


def test_the_most_severe_breach_names_the_severity_and_any_blocking_one_blocks(release):
    upload(release, body(hours_ago=3))
    segments = {"eu": {"quality": 0.5, "protected": True, "baseline": 0.92}}
    result = upload(release, body(latency_p95_ms=400, retry_rate=0.5, segments=segments))
    assert len(result.report.breaches) == 3
    assert (result.incident.severity, result.incident.blocks_promotion) == ("sev1", True)


def test_a_breach_repeated_while_the_incident_is_open_is_added_to_its_timeline(release):
    first = upload(release, body(hours_ago=3, latency_p95_ms=300))
    second = upload(release, body(hours_ago=1, latency_p95_ms=320))
    assert Incident.objects.count() == 1
    assert second.incident == first.incident
    assert "Still breached" in first.incident.timeline.order_by("-id").first().text
    assert Notification.objects.count() == 1


def test_a_replay_of_the_same_window_and_body_returns_the_stored_report(release):
    first = upload(release, body(latency_p95_ms=300))
    before = counts()
    again = upload(release, body(latency_p95_ms=300))
    assert (again.created, again.report, again.incident) == (False, first.report, first.incident)
    assert counts() == before


def test_another_body_for_a_reported_window_is_a_conflict_with_nothing_changed(release):
    upload(release, body())
    before = counts()
    with pytest.raises(Conflict, match="different report"):
        upload(release, body(latency_p95_ms=181.0))
    assert counts() == before


def test_a_report_for_a_ring_not_entered_is_a_conflict_with_nothing_changed(release):
    before = counts()
    with pytest.raises(Conflict, match="has not entered general"):
        upload(release, body(latency_p95_ms=999), ring="general")
    with pytest.raises(Conflict, match="has not entered guarded"):
        upload(release, body(latency_p95_ms=999), environment="staging")
    assert counts() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"window_start": (NOW - timedelta(minutes=30)).isoformat()}, "window_start"),
        (
            {"window_end": (NOW + timedelta(hours=1)).isoformat(), "window_start": NOW.isoformat()},
            "window_end",
        ),
        ({"window_end": "2026-11-30T11:00:00"}, "window_end"),
        ({"window_end": "2026-02-30T11:00:00Z"}, "window_end"),
        ({"window_start": 20261130}, "window_start"),
        ({"latency_p95_ms": -1}, "latency_p95_ms"),
        ({"retry_rate": 1.2}, "retry_rate"),
        ({"disagreement_rate": -0.1}, "disagreement_rate"),
        ({"request_volume": 1.5}, "request_volume"),
        ({"segments": {"eu": {"quality": 0.9}}}, "segments"),
        ({"drift_scores": {"amount": "high"}}, "drift_scores"),
        ({"cpu": 0.5}, "cpu"),
    ],
)
def test_a_malformed_report_is_refused_naming_the_field_with_nothing_changed(
    release, overrides, field
):
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        upload(release, body(**overrides))
    assert field in refused.value.errors
    assert counts() == before


def test_a_missing_field_is_refused(release):
    payload = body()
    del payload["latency_p95_ms"]
    with pytest.raises(InvalidInput) as refused:
        upload(release, payload)
    assert refused.value.errors["latency_p95_ms"] == ["required"]


def test_another_teams_ci_or_a_viewer_may_not_upload_with_nothing_changed(release):
    outsiders = (ci_user(TeamFactory()), team_member(release.team, "view_team_registry"))
    before = counts()
    for outsider in outsiders:
        with pytest.raises(NotPermitted):
            upload(release, body(latency_p95_ms=999), actor=outsider)
    assert counts() == before


def test_a_registrant_of_the_team_may_upload(release):
    person = team_member(release.team, "register_versions")
    assert upload(release, body(), actor=person).report.uploaded_by == person


def test_a_ring_entry_without_a_request_is_judged_by_the_releases_policy(release):
    from approvals.models import RingEntry

    RingEntry.objects.create(
        release=release,
        environment="prod",
        ring="offline_validation",
        entered_at=NOW - timedelta(days=5),
        entered_by=UserFactory(),
    )
    from approvals.release_policy import policy_for_release

    _policy, snapshot = policy_for_release(release, ring="offline_validation")
    result = upload(release, body(latency_p95_ms=999), ring="offline_validation")
    assert [b["trigger"] for b in result.report.breaches] == [
        t["name"] for t in snapshot["rollback_triggers"] if t["metric"] == "latency_p95_ms"
    ]
