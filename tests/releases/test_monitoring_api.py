"""POST/GET /api/v1/releases/<id>/monitoring-reports/ (issue 13): upload a monitoring report
through the API; a breach opens an incident; refusals are problem documents that change
nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.models import Incident, MonitoringReport
from audit.models import AuditEvent
from registry.choices import TokenScope
from tests.registry.factories import TeamFactory, service_account_with_token
from tests.releases.factories import ReleaseFactory
from tests.releases.test_monitoring import TRIGGERS, entered

pytestmark = pytest.mark.django_db


def client_for(team, scopes=(TokenScope.EVIDENCE, TokenScope.READ)) -> APIClient:
    _, token = service_account_with_token(teams=[team], scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def report(hours_ago=1, **overrides):
    end = timezone.now() - timedelta(hours=hours_ago)
    body = {
        "environment": "prod",
        "ring": "guarded",
        "window_start": (end - timedelta(hours=1)).isoformat(),
        "window_end": end.isoformat(),
        "request_volume": 12000,
        "latency_p95_ms": 180.0,
        "retry_rate": 0.02,
    }
    return body | overrides


def counts():
    return (MonitoringReport.objects.count(), Incident.objects.count(), AuditEvent.objects.count())


@pytest.fixture
def release():
    release = ReleaseFactory(team=TeamFactory())
    entered(release, environment="prod", ring="guarded", triggers=TRIGGERS)
    return release


def url(release) -> str:
    return f"/api/v1/releases/{release.pk}/monitoring-reports/"


def test_a_clean_report_is_stored_and_read_back_newest_first(release):
    client = client_for(release.team)

    first = client.post(url(release), report(hours_ago=3), format="json")
    second = client.post(url(release), report(hours_ago=1), format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["breaches"] == [] and second.json()["incident"] is None
    listed = client.get(url(release)).json()["results"]
    assert [r["id"] for r in listed] == [second.json()["id"], first.json()["id"]]


def test_a_report_breaching_p95_latency_opens_an_incident(release):
    response = client_for(release.team).post(
        url(release), report(latency_p95_ms=900.0), format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["breaches"]
    incident = Incident.objects.get(pk=response.json()["incident"])
    assert incident.release_id == release.pk and incident.blocks_promotion


def test_the_same_window_and_body_again_is_a_replay_not_a_second_report(release):
    client = client_for(release.team)
    body = report()
    created = client.post(url(release), body, format="json")
    before = counts()

    again = client.post(url(release), body, format="json")

    assert (created.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == created.json()["id"]
    assert counts() == before


@pytest.mark.parametrize(
    "body",
    [
        report(environment=""),
        {k: v for k, v in report().items() if k != "ring"},
        report(latency_p95_ms=-1),
        report(retry_rate=1.5),
        report(window_start=timezone.now().isoformat()),
        ["not", "an", "object"],
    ],
)
def test_a_bad_report_is_a_400_problem_with_nothing_stored(release, body):
    client = client_for(release.team)
    before = counts()

    response = client.post(url(release), body, format="json")

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert counts() == before


def test_a_ring_the_release_has_not_entered_is_a_409_with_nothing_stored(release):
    client = client_for(release.team)
    before = counts()

    response = client.post(url(release), report(ring="general"), format="json")

    assert response.status_code == 409
    assert counts() == before


def test_a_read_only_token_or_another_team_changes_nothing(release):
    read_only = client_for(release.team, scopes=(TokenScope.READ,))
    outsider = client_for(TeamFactory())
    before = counts()

    assert read_only.post(url(release), report(), format="json").status_code == 403
    assert outsider.post(url(release), report(), format="json").status_code == 404
    assert outsider.get(url(release)).status_code == 404
    assert counts() == before
