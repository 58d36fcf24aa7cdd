"""The scorecard's page (``admin:scorecard``) and its JSON endpoint: who sees what, the
window picker's errors, problem documents, and the same queries at two sizes.

Both read the clock themselves, so these tests ask for a custom window in June 2026 (in
the past): the figures that do not depend on "now" are the known answers of
``tests/releases/scorecard_world.py``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from approvals.scorecard import Exceptions, LeadTime, PolicyFailures
from audit.models import AuditEvent
from tests.registry.factories import approver, service_account_with_token
from tests.releases import scorecard_world

pytestmark = pytest.mark.django_db

JUNE = {"period": "custom", "window_start": "2026-06-01", "window_end": "2026-06-29"}
JUNE_API = {"window_start": "2026-06-01", "window_end": "2026-06-29"}


@pytest.fixture
def world():
    return scorecard_world.build()


def page(user, params=None):
    client = Client()
    client.force_login(user)
    return client.get(reverse("admin:scorecard"), params or {})


def api(user, params=None, *, token=None):
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    elif user is not None:
        client.force_authenticate(user)
    return client.get("/api/v1/scorecard/", params or {})


def test_the_page_shows_a_managers_team_with_the_known_figures(world):
    response = page(world.alpha_manager, JUNE)

    assert response.status_code == 200
    card = response.context["scorecard"]
    assert [row.team_slug for row in card.teams] == ["alpha"]
    alpha = card.teams[0]
    assert alpha.lead_time == LeadTime(count=3, median_days=20.0, p90_days=32.0)
    assert alpha.policy_failures == PolicyFailures(decided=4, caught=2, escaped=2)
    assert alpha.exceptions == Exceptions(
        granted=2, by_check={"eval_thresholds": 1, "metadata_complete": 1}
    )
    # 1 to 29 June included: 29 whole days, 11 with an alpha incident open
    assert (alpha.incident_days.window_days, alpha.incident_days.incident_free_days) == (29, 18)
    html = response.content.decode()
    assert 'data-team="alpha"' in html and 'data-team="beta"' not in html
    assert "2 of 4" in html  # caught of caught + escaped


def test_the_page_defaults_to_the_last_90_days(world):
    response = page(world.auditor)
    assert response.status_code == 200
    card = response.context["scorecard"]
    assert card.window_end - card.window_start == timedelta(days=90)
    assert sorted(row.team_slug for row in card.teams) == ["alpha", "beta", "gamma"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({**JUNE, "window_start": "2026-06-30"}, "window_start"),  # after the last day
        ({**JUNE, "window_start": "June the first"}, "window_start"),
        ({**JUNE, "window_end": "2026-02-30"}, "window_end"),
        ({"period": "custom", "window_start": "2026-06-01"}, "window_end"),
        ({"period": "7"}, "period"),
        ({**JUNE, "window_end": "9999-12-31"}, "window_end"),  # the day after overflows
        ({**JUNE, "team": "alpha"}, "team"),  # not one of beta's manager's teams
    ],
)
def test_a_bad_window_or_team_is_a_form_error_and_no_figures(world, params, field):
    before = AuditEvent.objects.count()
    response = page(world.beta_manager, params)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert response.context["scorecard"] is None
    assert 'id="scorecard-teams"' not in response.content.decode()
    assert AuditEvent.objects.count() == before


def test_only_managers_and_auditors_may_open_the_page(world):
    assert page(approver(world.alpha, "security"), JUNE).status_code == 403


def test_the_dashboard_links_to_the_scorecard(world):
    client = Client()
    client.force_login(world.alpha_manager)
    response = client.get(reverse("admin:dashboard"))
    assert reverse("admin:scorecard") in response.content.decode()


def test_the_endpoint_answers_a_read_token_of_its_team_with_the_known_figures(world):
    _, token = service_account_with_token(teams=[world.alpha], scopes=["read"])
    before = AuditEvent.objects.count()

    response = api(None, JUNE_API, token=token)

    assert response.status_code == 200, response.content
    body = response.json()
    assert [team["team"] for team in body["teams"]] == ["alpha"]
    alpha = body["teams"][0]
    assert alpha["lead_time"] == {"count": 3, "median_days": 20.0, "p90_days": 32.0}
    assert alpha["policy_failures"] == {
        "decided": 4,
        "caught": 2,
        "escaped": 2,
        "denominator": 4,
        "share_caught": 0.5,
    }
    assert alpha["exceptions"] == {
        "granted": 2,
        "by_check": {"eval_thresholds": 1, "metadata_complete": 1},
    }
    assert alpha["incident_days"]["incident_free_days"] == 18
    assert body["window_start"] == "2026-06-01T00:00:00Z"
    assert body["window_end"] == "2026-06-30T00:00:00Z"
    assert AuditEvent.objects.count() == before  # a read writes nothing


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"window_start": "2026-06-30", "window_end": "2026-06-01"}, "window_start"),
        ({"window_start": "yesterday"}, "window_start"),
        ({"window_end": "2026-06-01T10:00:00"}, "window_end"),  # no time zone
        ({"window_end": "9999-12-31"}, "window_end"),  # its midnight after is out of range
    ],
)
def test_a_bad_window_is_a_400_problem_and_nothing_else(world, params, field):
    response = api(world.auditor, params)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert "teams" not in body and "overall" not in body
    if field:
        assert field in body["errors"]


def test_a_team_the_caller_may_not_see_is_a_404_problem(world):
    response = api(world.beta_manager, {**JUNE_API, "team": "alpha"})
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
    assert "alpha" not in [t.get("team") for t in response.json().get("teams", [])]


def test_anonymous_callers_are_refused(world):
    assert api(None, JUNE_API).status_code == 401


def _queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert call().status_code == 200
    return len(captured)


def test_the_page_and_the_endpoint_run_the_same_queries_at_two_sizes(world):
    _, token = service_account_with_token(teams=[world.alpha], scopes=["read"])
    calls = {
        "page": lambda: page(world.alpha_manager, JUNE),
        "api as a person": lambda: api(world.auditor, JUNE_API),
        "api with a token": lambda: api(None, JUNE_API, token=token),
    }
    for call in calls.values():
        call()  # warm: sessions, caches
    small = {name: _queries(call) for name, call in calls.items()}
    scorecard_world.more_of_everything(world.alpha, world.actor, 200)
    large = {name: _queries(call) for name, call in calls.items()}

    assert large == small
    card = page(world.alpha_manager, JUNE).context["scorecard"]
    assert card.teams[0].lead_time.count == 203
