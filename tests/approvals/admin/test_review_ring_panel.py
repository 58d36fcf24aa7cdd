"""The review page's ring panel: a ring request of a release shows the release and its
components, the rings entered, the target ring's entry criteria each met or not and why
(the ring checks themselves), the change categories with why and the blocking incidents,
in the same queries with 2 or 30 of what grows; a plain version request has no panel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.choices import IncidentSeverity, IncidentSource, IncidentState
from approvals.models import Incident, MonitoringReport, RingEntry
from approvals.review_page import review_page
from registry.choices import Ring
from tests.approvals.admin.review_scenario import review_scenario
from tests.registry.factories import UserFactory
from tests.releases.rings_helpers import (
    board,
    enter_directly,
    model_component,
    monitoring_report,
    request_ring,
    stack_release,
)

pytestmark = pytest.mark.django_db


def page_html(user, request) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/admin/approvals/promotionrequest/{request.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def blocking_incident(release, title: str, **fields) -> Incident:
    return Incident.objects.create(
        team=release.team,
        release=release,
        title=title,
        severity=fields.pop("severity", IncidentSeverity.SEV2),
        state=fields.pop("state", IncidentState.OPEN),
        source=IncidentSource.PERSON,
        opened_by=UserFactory(),
        opened_at=fields.pop("opened_at", timezone.now()),
        **fields,
    )


@pytest.fixture
def guarded():
    """A threshold release in internal since this morning (guarded asks for a day), its
    internal monitoring within thresholds, an open blocking incident and a resolved one,
    asking for guarded rollout in prod."""
    release = stack_release(categories=["threshold"])
    enter_directly(release, Ring.OFFLINE_VALIDATION, days_ago=3)
    enter_directly(release, Ring.INTERNAL, days_ago=0.25)
    monitoring_report(release, Ring.INTERNAL)
    blocking_incident(release, "checkout latency spike", severity=IncidentSeverity.SEV1)
    blocking_incident(release, "old drift", state=IncidentState.RESOLVED)
    request = request_ring(release, Ring.GUARDED)
    reviewer = board(release.team, "product")["product"]
    return release, request, reviewer


def test_a_ring_request_shows_the_target_rings_criteria_each_met_or_not_and_why(guarded):
    release, request, reviewer = guarded

    panel = review_page(reviewer, request.pk).ring

    assert (panel.release.pk, panel.environment, panel.target_ring) == (
        release.pk,
        "prod",
        Ring.GUARDED,
    )
    outcomes = {row.check: (row.passed, row.critical) for row in panel.criteria}
    # The criteria the request was judged on, as the ring checks decide them
    recorded = {r.check_name: r.passed for r in request.check_results.all()}
    assert {check: passed for check, (passed, _) in outcomes.items()} == recorded
    assert outcomes["components_approved"] == (True, True)
    assert outcomes["manifest_intact"] == (True, True)
    assert outcomes["previous_ring_entered"] == (True, True)
    assert outcomes["min_days_in_previous"][0] is False
    assert outcomes["no_open_incident"] == (False, True)
    why = {row.check: row.detail for row in panel.criteria}
    assert "0.25 days in Internal" in why["min_days_in_previous"]
    assert "checkout latency spike" in why["no_open_incident"]
    assert panel.failed_criteria == 2


def test_the_panel_lists_components_rings_entered_categories_and_blocking_incidents(guarded):
    release, request, reviewer = guarded

    panel = review_page(reviewer, request.pk).ring

    model = model_component(release)
    assert {(c.kind, c.name, c.version, c.state_label) for c in panel.components} >= {
        ("model", model.registered_model.name, model.version, "Approved")
    }
    assert len(panel.components) == 2
    assert [(e.environment, e.ring_label) for e in panel.entered] == [
        ("prod", "Offline validation"),
        ("prod", "Internal"),
    ]
    assert [(c.category, c.why) for c in panel.categories] == [
        ("threshold", "threshold detected in the diff")
    ]
    # Only the open incident blocks; the resolved one does not
    assert [(i.title, i.severity_label, i.state_label) for i in panel.blocking_incidents] == [
        ("checkout latency spike", "SEV1 (critical)", "Open")
    ]


def test_the_page_says_each_criterion_in_words_with_links_to_the_release_and_incident(guarded):
    release, request, reviewer = guarded
    incident = Incident.objects.get(title="checkout latency spike")

    html = page_html(reviewer, request)

    start = html.index('id="ring-panel"')
    panel = html[start : html.index("</section>", start)]
    assert "into Shadow or guarded rollout in prod" in panel
    assert "2 criteria not met now" in panel
    assert "✓ Met" in panel and "✗ Not met" in panel
    assert f'href="/admin/registry/release/{release.pk}/change/"' in panel
    assert f'href="/admin/approvals/incident/{incident.pk}/change/"' in panel
    assert "Threshold or policy update" in panel
    assert "old drift" not in panel


def test_a_plain_version_request_has_no_ring_panel():
    scenario = review_scenario()

    page = review_page(scenario.reviewer, scenario.in_review.pk)

    assert page.ring is None
    assert 'id="ring-panel"' not in page_html(scenario.reviewer, scenario.in_review)


def test_the_first_ring_passes_its_criteria_with_nothing_entered():
    release = stack_release()
    request = request_ring(release, Ring.OFFLINE_VALIDATION)
    reviewer = board(release.team, "platform")["platform"]

    panel = review_page(reviewer, request.pk).ring

    assert [(row.check, row.passed) for row in panel.criteria] == [
        ("components_approved", True),
        ("manifest_intact", True),
        ("previous_ring_entered", True),
    ]
    assert (panel.entered, panel.categories, panel.blocking_incidents) == ([], [], [])


def test_the_ring_page_runs_the_same_queries_with_2_and_30_reports_incidents_and_entries(guarded):
    release, request, reviewer = guarded
    _grow(release, 1)  # 2 of each (with the fixture's report and open incident)
    small = _queries(reviewer, request)

    _grow(release, 28, start=1)
    large = _queries(reviewer, request)

    assert len(large) == len(small), [sql for sql in large if sql not in small]
    panel = review_page(reviewer, request.pk).ring
    assert len(panel.blocking_incidents) == 30
    assert len(panel.entered) == 2 + 29


def _grow(release, count: int, *, start: int = 0) -> None:
    """``count`` more internal monitoring reports, open blocking incidents, and ring
    entries in other environments."""
    now = timezone.now()
    actor = UserFactory()
    MonitoringReport.objects.bulk_create(
        MonitoringReport(
            release=release,
            environment="prod",
            ring=Ring.INTERNAL,
            window_start=now - timedelta(hours=10 + start + i, minutes=30),
            window_end=now - timedelta(hours=10 + start + i),
            request_volume=1000,
            latency_p95_ms=120.0,
            retry_rate=0.01,
            body_sha256="b" * 64,
            uploaded_by=actor,
            uploaded_at=now,
        )
        for i in range(count)
    )
    Incident.objects.bulk_create(
        Incident(
            team=release.team,
            release=release,
            title=f"bulk incident {start + i}",
            severity=IncidentSeverity.SEV3,
            source=IncidentSource.PERSON,
            opened_by=actor,
            opened_at=now - timedelta(days=1, minutes=start + i),
        )
        for i in range(count)
    )
    RingEntry.objects.bulk_create(
        RingEntry(
            release=release,
            environment=f"region-{start + i}",
            ring=Ring.OFFLINE_VALIDATION,
            entered_at=now,
            entered_by=actor,
        )
        for i in range(count)
    )


def _queries(user, request) -> list[str]:
    client = Client()
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/admin/approvals/promotionrequest/{request.pk}/change/")
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]
