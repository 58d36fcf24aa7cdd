"""The governance scorecard's figures, asserted exactly on a world with known answers
(``tests/releases/scorecard_world.py`` says where each number comes from)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.scorecard import (
    Exceptions,
    IncidentDays,
    LeadTime,
    PolicyFailures,
    TeamNotFound,
    covered_days,
    governance_scorecard,
    percentile,
)
from core.errors import InvalidInput
from tests.registry.factories import approver, team_member
from tests.releases import scorecard_world
from tests.releases.scorecard_world import NOW, WINDOW, at

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def world():
    return scorecard_world.build()


def scorecard_for(user, *, window=WINDOW, now=NOW, team=None):
    return governance_scorecard(
        user=user, window_start=window[0], window_end=window[1], now=now, team=team
    )


def by_slug(scorecard):
    return {row.team_slug: row for row in scorecard.teams}


def test_a_team_manager_sees_their_teams_exact_figures_and_nothing_of_other_teams(world):
    # When alpha's manager reads June's scorecard
    card = scorecard_for(world.alpha_manager)

    # Then only alpha is listed, and overall is alpha
    assert [row.team_slug for row in card.teams] == ["alpha"]
    alpha = card.teams[0]
    assert alpha.lead_time == LeadTime(count=3, median_days=20.0, p90_days=32.0)
    assert alpha.policy_failures == PolicyFailures(decided=4, caught=2, escaped=2)
    assert (alpha.policy_failures.denominator, alpha.policy_failures.share_caught) == (4, 0.5)
    assert alpha.exceptions == Exceptions(
        granted=2, by_check={"eval_thresholds": 1, "metadata_complete": 1}
    )
    assert alpha.incident_days == IncidentDays(
        window_days=29, incident_free_days=18, days_since_last_incident=0, open_now=True
    )
    assert (card.overall.lead_time, card.overall.policy_failures) == (
        alpha.lead_time,
        alpha.policy_failures,
    )
    assert card.overall.incident_days == alpha.incident_days


def test_a_team_without_an_open_incident_counts_days_since_its_last_resolution(world):
    card = scorecard_for(world.beta_manager)

    [beta] = card.teams
    assert beta.team_slug == "beta"
    assert beta.lead_time == LeadTime(count=1, median_days=2.0, p90_days=2.0)
    assert beta.policy_failures == PolicyFailures(decided=1, caught=1, escaped=0)
    assert beta.policy_failures.share_caught == 1.0
    assert beta.exceptions == Exceptions(granted=1, by_check={"artifact_scan": 1})
    # An incident ending exactly at the window's start covers no day of it.
    assert beta.incident_days == IncidentDays(
        window_days=29, incident_free_days=27, days_since_last_incident=18, open_now=False
    )


def test_an_auditor_sees_every_team_and_overall_adds_them_up(world):
    card = scorecard_for(world.auditor)

    assert sorted(by_slug(card)) == ["alpha", "beta", "gamma"]
    overall = card.overall
    assert overall.lead_time == LeadTime(count=5, median_days=10.0, p90_days=29.0)
    assert overall.policy_failures == PolicyFailures(decided=6, caught=4, escaped=2)
    assert overall.exceptions == Exceptions(
        granted=3, by_check={"artifact_scan": 1, "eval_thresholds": 1, "metadata_complete": 1}
    )
    # Overall, a day is free when no team had an incident open: the 4th to the 7th.
    assert overall.incident_days == IncidentDays(
        window_days=29, incident_free_days=4, days_since_last_incident=0, open_now=True
    )


def test_a_team_auditor_sees_their_team_only(world):
    # Given a person holding the team's viewing role (the team auditor group's grant)
    card = scorecard_for(team_member(world.beta, "view_team_registry"))
    assert [row.team_slug for row in card.teams] == ["beta"]
    assert card.overall.exceptions == Exceptions(granted=1, by_check={"artifact_scan": 1})


def test_one_team_asked_for_is_the_only_one_shown(world):
    card = scorecard_for(world.auditor, team="beta")
    assert [row.team_slug for row in card.teams] == ["beta"]
    assert card.overall.policy_failures == PolicyFailures(decided=1, caught=1, escaped=0)


def test_a_team_the_user_may_not_see_is_not_found_like_a_missing_one(world):
    with pytest.raises(TeamNotFound, match="No team 'alpha'"):
        scorecard_for(world.beta_manager, team="alpha")
    with pytest.raises(TeamNotFound, match="No team 'nobody'"):
        scorecard_for(world.auditor, team="nobody")


def test_a_board_member_who_is_neither_manager_nor_auditor_sees_no_team(world):
    card = scorecard_for(approver(world.alpha, "security"))
    assert card.teams == []
    assert card.overall.policy_failures == PolicyFailures(decided=0, caught=0, escaped=0)
    assert card.overall.policy_failures.share_caught is None
    assert card.overall.lead_time == LeadTime(count=0, median_days=None, p90_days=None)


def test_a_window_starting_mid_incident_counts_the_incident_from_the_start(world):
    # Given a window from 2 June: I0 (opened 28 May, resolved 3 June noon) covers its
    # first two days
    card = scorecard_for(world.alpha_manager, window=(at(2), at(5)))

    days = card.teams[0].incident_days
    assert (days.window_days, days.incident_free_days) == (3, 1)


def test_a_window_ending_in_the_future_counts_whole_days_up_to_now_only(world):
    card = scorecard_for(world.beta_manager, window=(at(20), at(20, month=7)))
    # 20 June 00:00 to now (30 June noon): 10 whole days, none with a beta incident
    assert card.teams[0].incident_days.window_days == 10
    assert card.teams[0].incident_days.incident_free_days == 10


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (at(10), at(10), "window_start"),
        (at(11), at(10), "window_start"),
        ("2026-06-01", at(10), "window_start"),
        (at(1).replace(tzinfo=None), at(10), "window_start"),
        (at(1), None, "window_end"),
    ],
)
def test_a_bad_window_is_refused_naming_the_field(world, start, end, field):
    with pytest.raises(InvalidInput) as refusal:
        scorecard_for(world.auditor, window=(start, end))
    assert list(refusal.value.errors) == [field]


def test_the_scorecard_runs_the_same_queries_at_two_sizes(world):
    def queries(name):
        user = User.objects.get(pk=getattr(world, name).pk)  # no permission cache carried
        with CaptureQueriesContext(connection) as captured:
            scorecard_for(user)
        return len(captured)

    small = {name: queries(name) for name in ("alpha_manager", "auditor")}
    scorecard_world.more_of_everything(world.alpha, world.actor, 200)
    large = {name: queries(name) for name in ("alpha_manager", "auditor")}

    assert large == small
    # Who the person is (service account? their model permissions, user and group), the
    # teams with their last incident, then one query per figure.
    assert small["alpha_manager"] == 3 + 1 + 5
    card = scorecard_for(world.alpha_manager)
    assert card.teams[0].lead_time.count == 3 + 200
    assert card.teams[0].policy_failures == PolicyFailures(decided=14, caught=12, escaped=12)


def test_percentiles_interpolate_between_closest_ranks_like_percentile_cont():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([10.0, 20.0, 35.0], 0.9) == pytest.approx(32.0)
    assert percentile([35.0, 2.0, 20.0, 10.0], 0.5) == pytest.approx(15.0)


def test_covered_days_merge_overlapping_spans_and_clip_them_to_the_window():
    start = at(1)
    spans = [
        (at(28, month=5), at(2, 1)),
        (at(2), at(3)),
        (at(9, 23), at(9, 23)),
        (at(30), at(31, month=7)),
    ]
    # days 0-1 (first two), day 1 again, day 8 (zero length: its opening day), past the end
    assert covered_days(spans, start, 10) == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans only")
def test_the_decided_requests_are_counted_from_the_team_index_alone(world):
    # Given the scorecard's statement that counts the decided and the caught requests
    with CaptureQueriesContext(connection) as captured:
        scorecard_for(world.auditor)
    (decisions,) = [q["sql"] for q in captured if 'AS "decided"' in q["sql"]]
    # and a planner allowed only index-only scans (whatever a small test table's statistics
    # say: a scan that needs a column outside an index is then never the cheaper one)
    scans = ("enable_seqscan", "enable_bitmapscan", "enable_indexscan")
    with connection.cursor() as cursor:
        for scan in scans:
            cursor.execute(f"SET LOCAL {scan} = off")

        # When PostgreSQL plans it
        cursor.execute(f"EXPLAIN {decisions}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

        for scan in scans:
            cursor.execute(f"SET LOCAL {scan} = on")

    # Then the decided are counted from the (team, state, state_changed_at) index without
    # reading the table (no column outside it: the failed-check lookup, which needs the
    # id, runs only over the requests not approved)
    assert "Index Only Scan using promotion_request_team_changed" in plan, plan
