"""The manager dashboard: each tile's number is what a separate query counts, each tile
links to the request list filtered to the same rows, the page costs the same queries at
20 and 2,000 requests, and only managers and auditors may open it."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from statistics import mean
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals import dashboard
from approvals.models import CheckException, CheckResult, PromotionRequest
from tests.approvals.admin.dashboard_scenario import (
    build_dashboard_scenario,
    bulk_pending,
    dashboard_manager,
)
from tests.registry.factories import TeamFactory, UserFactory, approver
from tests.reports.scenario import global_auditor, team_auditor

pytestmark = pytest.mark.django_db

OPEN = ["submitted", "checking", "in_review"]
DASHBOARD_URL = "/admin/dashboard/"


@pytest.fixture
def scenario():
    return build_dashboard_scenario()


def _on(team):
    return PromotionRequest.objects.filter(version__registered_model__team=team)


def test_every_tile_counts_what_a_separate_query_counts(scenario):
    # Given the scenario's two teams and the manager of one of them
    now, team = scenario.now, scenario.team
    pending = _on(team).filter(state__in=OPEN)
    days = [(0, 1), (1, 3), (3, 7), (7, 14), (14, 10_000)]
    since = now - timedelta(days=90)

    # When the dashboard is computed for the manager at that moment
    board = dashboard.dashboard_for(scenario.manager, now=now)

    # Then pending by age is the count of open requests in each age window
    expected_ages = [
        pending.filter(
            created_at__lte=now - timedelta(days=low), created_at__gt=now - timedelta(days=high)
        ).count()
        for low, high in days
    ]
    assert [bar.count for bar in board.pending_by_age] == expected_ages == [2, 2, 1, 1, 3]
    # And pending by team names only the manager's team
    assert [(bar.label, bar.count) for bar in board.pending_by_team] == [
        (team.slug, pending.count())
    ]
    # And SLA breaches are the open requests past due
    assert board.sla_breaches == pending.filter(due_at__lt=now).count() == 2
    # And expiring approvals are approved versions lapsing within 30 days
    assert (
        board.expiring_approvals
        == _on(team)
        .filter(
            state="approved",
            version__approval_expires_at__range=(now, now + timedelta(days=30)),
        )
        .count()
        == 2
    )
    # And the top rejection reasons count recent rejections per reason, largest first
    recent_rejections = _on(team).filter(state="rejected", decided_at__gte=since)
    reasons = defaultdict(int)
    for request in recent_rejections:
        reasons[request.reasons[0]] += 1
    assert [(bar.label, bar.count) for bar in board.top_rejection_reasons] == sorted(
        reasons.items(), key=lambda item: (-item[1], item[0])
    )
    assert board.top_rejection_reasons[0].count == 3
    # And the top failed checks count recent requests per failed check
    failures = defaultdict(set)
    for result in CheckResult.objects.filter(
        passed=False, request__in=_on(team), request__created_at__gte=since
    ):
        failures[result.check_name].add(result.request_id)
    assert [(bar.label, bar.count) for bar in board.top_failed_checks] == sorted(
        ((name, len(ids)) for name, ids in failures.items()), key=lambda item: (-item[1], item[0])
    )
    # And caught failures and exceptions are counted in requests
    assert board.requests_caught_failing == len(set().union(*failures.values())) == 5
    assert (
        board.requests_with_exceptions
        == CheckException.objects.filter(request__in=_on(team), granted_at__gte=since)
        .values("request")
        .distinct()
        .count()
        == 1
    )


def test_lead_time_is_the_mean_hours_to_decision_per_week_of_decision(scenario):
    # Given decisions in several weeks
    now = scenario.now
    board = dashboard.dashboard_for(scenario.manager, now=now)

    # Then each week's bar is the mean of (decided - requested) of that week's decisions
    expected = defaultdict(list)
    for request in _on(scenario.team).filter(state__in=["approved", "rejected"]):
        monday = (request.decided_at - timedelta(days=request.decided_at.weekday())).date()
        expected[monday.isoformat()].append(
            (request.decided_at - request.created_at).total_seconds() / 3600
        )
    bars = {bar.key: bar for bar in board.lead_time_by_week}
    assert len(board.lead_time_by_week) == dashboard.LEAD_TIME_WEEKS
    shown = {key: hours for key, hours in expected.items() if key in bars}
    assert len(shown) >= 2  # the 1-, 2- and 3-week-old decisions fall in the chart
    for key, hours in shown.items():
        assert bars[key].count == len(hours)
        assert bars[key].value == pytest.approx(mean(hours))
    assert sum(bar.count for bar in board.lead_time_by_week) == sum(
        len(hours) for hours in shown.values()
    )


def test_a_reader_of_both_teams_sees_the_sum_of_each_teams_figures(scenario):
    # Given the manager's team and the other team, and a manager of the other team
    now = scenario.now
    other = dashboard_manager(scenario.other_team)
    both = global_auditor()

    # When the dashboard is computed for each team alone and for both together
    alone = [dashboard.dashboard_for(person, now=now) for person in (scenario.manager, other)]
    together = dashboard.dashboard_for(both, now=now)

    # Then every count of both teams is the sum of the two teams' counts (the tiles are
    # grouped by team and week of decision, then added up)
    def ages(board):
        return [bar.count for bar in board.pending_by_age]

    assert ages(together) == [a + b for a, b in zip(*map(ages, alone), strict=True)]
    assert ages(together) == [2, 2, 1, 1, 7]
    assert [(bar.label, bar.count) for bar in together.pending_by_team] == [
        ("assistants", 9),
        ("vision", 4),
    ]
    assert together.sla_breaches == sum(board.sla_breaches for board in alone) == 6
    assert together.expiring_approvals == 2
    assert [(bar.label, bar.count) for bar in together.top_rejection_reasons] == [
        ("rejected: bias", 5),
        ("rejected: docs", 1),
    ]
    assert [(bar.label, bar.count) for bar in together.top_failed_checks] == [
        ("eval_thresholds", 6),
        ("metadata_complete", 1),
    ]
    assert together.requests_caught_failing == 7
    assert together.requests_with_exceptions == 1
    # And each week's lead time weighs the two teams' decisions by their number
    for week, mine, theirs in zip(
        together.lead_time_by_week, *(board.lead_time_by_week for board in alone), strict=True
    ):
        assert week.count == mine.count + theirs.count
        if week.count:
            expected = (mine.value * mine.count + theirs.value * theirs.count) / week.count
            assert week.value == pytest.approx(expected)
    # (the 2 expiring and 1 later approvals, 3 "bias" and 1 "docs", the other team's 2)
    assert sum(week.count for week in together.lead_time_by_week) == 2 + 1 + 3 + 1 + 2


def test_each_tile_links_to_the_request_list_filtered_to_the_rows_it_counts(scenario):
    # Given the manager signed in
    client = Client()
    client.force_login(scenario.manager)

    # When they open the dashboard
    page = client.get(DASHBOARD_URL)
    assert page.status_code == 200
    board, links, charts = page.context["dashboard"], page.context["links"], page.context["charts"]

    def listed(url):
        response = client.get(url)
        assert response.status_code == 200, url
        assert dict(parse_qsl(urlsplit(url).query)).keys() <= set(
            response.context["cl"].filter_params
        ), url
        return response.context["cl"].result_count

    # Then each tile's link lists as many requests as the tile shows
    assert listed(links["pending"]) == board.pending
    assert listed(links["sla_breaches"]) == board.sla_breaches
    assert listed(links["expiring"]) == board.expiring_approvals
    assert listed(links["caught"]) == board.requests_caught_failing
    assert listed(links["exceptions"]) == board.requests_with_exceptions
    for name in ("age", "team", "rejections", "failed_checks"):
        for row in charts[name].rows:
            assert str(listed(row.href)) == row.value_text, (name, row.label)
    # And the charts are inline SVG with each bar's label and number as text
    html = page.content.decode()
    charts_html = html[html.index('<div class="govboard-charts">') : html.index("<!-- END SVGs")]
    assert charts_html.count('<svg xmlns="http://www.w3.org/2000/svg" role="img"') == 5
    assert "<script" not in charts_html
    assert ">rejected: bias</text>" in html and ">3</text>" in html


def test_the_dashboard_runs_the_same_queries_at_20_and_2000_requests():
    # Given a manager of a team with 20 requests, then with 2,000
    team = TeamFactory()
    boss = dashboard_manager(team)
    client = Client()
    client.force_login(boss)
    now = dashboard.timezone.now()
    counts = {}
    for size in (20, 2000):
        bulk_pending(team, size - PromotionRequest.objects.count(), now)
        client.get(DASHBOARD_URL)  # warm the content-type and session caches

        # When the manager opens the dashboard
        reset_queries()  # a full query log (the fixtures' inserts) would capture nothing
        with CaptureQueriesContext(connection) as queries:
            response = client.get(DASHBOARD_URL)

        # Then it renders every request's counts
        assert response.status_code == 200
        assert PromotionRequest.objects.count() == size
        assert response.context["dashboard"].pending == size // 4 + size - 3 * (size // 4)
        counts[size] = len(queries)

    # And the number of queries does not grow with the data
    assert 0 < counts[20] == counts[2000] <= 16, counts


@pytest.mark.parametrize("who", ["board member", "plain staff", "other team's manager"])
def test_people_who_neither_manage_nor_audit_get_403(scenario, who):
    # Given someone who is not a governance manager or auditor of the team
    person = {
        "board member": lambda: approver(scenario.team, "platform", "security"),
        "plain staff": lambda: UserFactory(),
        "other team's manager": lambda: dashboard_manager(TeamFactory()),
    }[who]()
    client = Client()
    client.force_login(person)

    # When they open the dashboard
    response = client.get(DASHBOARD_URL)

    # Then the page is refused, or (another team's manager) shows none of this team's rows
    if who == "other team's manager":
        assert response.status_code == 200
        assert response.context["dashboard"].pending == 0
    else:
        assert response.status_code == 403


def test_an_anonymous_visitor_is_sent_to_the_login_page():
    response = Client().get(DASHBOARD_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_auditors_read_the_dashboard_of_the_teams_they_audit(scenario):
    # Given an auditor of every team and an auditor of the manager's team
    everyone, alpha = global_auditor(), team_auditor(scenario.team)

    # When each opens the dashboard
    pages = {}
    for name, auditor in (("global", everyone), ("team", alpha)):
        client = Client()
        client.force_login(auditor)
        pages[name] = client.get(DASHBOARD_URL)

    # Then both may, each seeing the teams they audit
    assert pages["global"].status_code == pages["team"].status_code == 200
    global_teams = {bar.label for bar in pages["global"].context["dashboard"].pending_by_team}
    team_teams = {bar.label for bar in pages["team"].context["dashboard"].pending_by_team}
    assert (global_teams, team_teams) == ({"assistants", "vision"}, {"assistants"})
