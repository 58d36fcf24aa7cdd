"""Issue 13: every release page and list endpoint (and the model card, version page,
dashboard, scorecard and incident list beside them) runs a fixed number of SQL queries at 20
and at 2,000 releases -- and one release's page and endpoints the same with 2 or 40 ring
requests, monitoring reports and incidents behind it, showing only the newest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from approvals.choices import IncidentSeverity, IncidentSource, RequestState
from approvals.models import Incident, MonitoringReport, RingEntry
from registry.choices import Ring, TokenScope, VersionState
from registry.models import Deployment
from tests.approvals.factories import PromotionRequestFactory
from tests.registry.factories import ModelVersionFactory, UserFactory, service_account_with_token
from tests.releases.factories import ReleaseFactory, bulk_releases

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)
SMALL, LARGE = 20, 2000


def _count(client, url: str, params: dict | None = None) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries), response


@pytest.fixture
def stack():
    """One release of a team, entered in internal, deployed for a customer, with one
    monitoring report and one incident; the rest of the team's releases come in bulk."""
    release = ReleaseFactory()
    team = release.team
    actor = UserFactory()
    version = release.components.get().model_version
    RingEntry.objects.create(
        release=release, environment="prod", ring=Ring.INTERNAL, entered_at=NOW, entered_by=actor
    )
    Deployment.objects.create(
        version=version,
        release=release,
        environment="prod",
        ring=Ring.INTERNAL,
        customer_scope="acme",
        started_at=NOW,
        recorded_by=actor,
    )
    _, raw = service_account_with_token(teams=[team], scopes=[TokenScope.READ])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return release, actor, api


def _report(release, actor, i: int) -> MonitoringReport:
    return MonitoringReport.objects.create(
        release=release,
        environment="prod",
        ring=Ring.INTERNAL,
        window_start=NOW + timedelta(hours=i),
        window_end=NOW + timedelta(hours=i + 1),
        request_volume=1000,
        latency_p95_ms=120.0,
        retry_rate=0.01,
        body_sha256=f"{i:064d}",
        uploaded_by=actor,
        uploaded_at=NOW + timedelta(hours=i + 1),
    )


def _incident(release, actor, i: int) -> Incident:
    return Incident.objects.create(
        team=release.team,
        release=release,
        title=f"incident {i}",
        severity=IncidentSeverity.SEV3,
        source=IncidentSource.PERSON,
        opened_by=actor,
        opened_at=NOW + timedelta(hours=i),
    )


def _more_history(release, actor, n: int, *, start: int = 100) -> None:
    for i in range(start, start + n):
        _report(release, actor, i)
        _incident(release, actor, i)
        PromotionRequestFactory(
            version=release.components.get().model_version,
            release=release,
            environment="prod",
            target_ring=Ring.GUARDED,
            state=RequestState.REJECTED,
        )


def _pages(release, admin_client, api, pinned=None) -> dict[str, tuple]:
    pk = release.pk
    version = pinned or release.components.get().model_version
    return {
        "admin model card": (admin_client, reverse("admin:model_card", args=[version.pk]), {}),
        "admin version page": (
            admin_client,
            reverse("admin:registry_modelversion_change", args=[version.pk]),
            {},
        ),
        "admin dashboard": (admin_client, reverse("admin:dashboard"), {}),
        "admin scorecard": (admin_client, reverse("admin:scorecard"), {}),
        "api scorecard": (api, "/api/v1/scorecard/", {"team": release.team.slug}),
        "api incident list": (api, "/api/v1/incidents/", {"team": release.team.slug}),
        "admin release list": (admin_client, reverse("admin:registry_release_changelist"), {}),
        "admin release search": (
            admin_client,
            reverse("admin:registry_release_changelist"),
            {"q": release.name},
        ),
        "admin release page": (
            admin_client,
            reverse("admin:registry_release_change", args=[pk]),
            {},
        ),
        "admin incident list": (admin_client, reverse("admin:approvals_incident_changelist"), {}),
        "admin monitoring list": (
            admin_client,
            reverse("admin:approvals_monitoringreport_changelist"),
            {},
        ),
        "api release list": (api, "/api/v1/releases/", {"team": release.team.slug}),
        "api release detail": (api, f"/api/v1/releases/{pk}/", {}),
        "api ring state": (api, f"/api/v1/releases/{pk}/rings/", {}),
        "api monitoring reports": (api, f"/api/v1/releases/{pk}/monitoring-reports/", {}),
        "api served at": (
            api,
            "/api/v1/served/",
            {"customer": "acme", "at": (NOW + timedelta(minutes=5)).isoformat()},
        ),
    }


@pytest.mark.parametrize(
    "page",
    [
        "admin model card",
        "admin version page",
        "admin dashboard",
        "admin scorecard",
        "api scorecard",
        "api incident list",
        "admin release list",
        "admin release search",
        "admin release page",
        "admin incident list",
        "admin monitoring list",
        "api release list",
        "api release detail",
        "api ring state",
        "api monitoring reports",
        "api served at",
    ],
)
def test_a_release_page_or_endpoint_runs_the_same_queries_at_20_and_2000_releases(
    page, stack, admin_client
):
    release, actor, api = stack
    _report(release, actor, 0)
    _incident(release, actor, 0)
    pinned = ModelVersionFactory(
        registered_model__team=release.team, state=VersionState.APPROVED, complete=True
    )
    # The model card and version page are those of the version every bulk release pins.
    client, url, params = _pages(release, admin_client, api, pinned)[page]
    bulk_releases(release.team, SMALL - 1, actor=actor, pinned=pinned)
    _count(client, url, params)  # warms the process's caches (content types)
    small, _ = _count(client, url, params)

    bulk_releases(release.team, LARGE - SMALL, actor=actor, pinned=pinned, prefix="more")

    large, _ = _count(client, url, params)
    assert large == small


@pytest.mark.parametrize(
    "page",
    [
        "admin release page",
        "admin incident list",
        "admin monitoring list",
        "api release detail",
        "api ring state",
        "api monitoring reports",
    ],
)
def test_one_releases_page_or_endpoint_runs_the_same_queries_with_2_or_40_of_its_events(
    page, stack, admin_client
):
    release, actor, api = stack
    client, url, params = _pages(release, admin_client, api)[page]
    _more_history(release, actor, 2)
    _count(client, url, params)  # warms the process's caches (content types)
    small, _ = _count(client, url, params)

    _more_history(release, actor, 38, start=200)

    large, _ = _count(client, url, params)
    assert large == small


def test_the_release_page_shows_only_the_newest_ten_of_each_growing_list(stack, admin_client):
    release, actor, _ = stack
    _more_history(release, actor, 12)

    _, response = _count(admin_client, reverse("admin:registry_release_change", args=[release.pk]))

    context = response.context
    assert len(context["latest_reports"]) == 10
    assert len(context["latest_incidents"]) == 10
    assert len(context["latest_ring_requests"]) == 10
    newest_report = MonitoringReport.objects.filter(release=release).latest("window_end")
    assert context["latest_reports"][0] == newest_report
    newest_incident = Incident.objects.filter(release=release).latest("opened_at")
    assert context["latest_incidents"][0] == newest_incident
    assert b"incident 111" in response.content
    assert b"incident 101" not in response.content
