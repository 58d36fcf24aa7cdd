"""Review SLAs count business days; managers expedite; overdue requests are flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from approvals import selectors, services, sla
from audit.models import AuditEvent
from core import permissions
from core.errors import Conflict, IllegalTransition, NotPermitted
from tests.approvals.factories import governance_row_counts, request_in_review
from tests.registry.factories import TeamFactory, UserFactory, approver

FRIDAY_NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (FRIDAY_NOON, 0, datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC)),
        (FRIDAY_NOON, 1, datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)),  # over the weekend
        (FRIDAY_NOON, 2, datetime(2026, 11, 24, 23, 59, 59, tzinfo=UTC)),
        (SATURDAY, 0, datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)),  # starts Monday
        (SATURDAY, 5, datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_due_dates_count_business_days_and_skip_weekends(start, days, due):
    assert sla.add_business_days(start, days) == due


def test_runbook_steps_run_one_after_another_and_expediting_halves_each_sla():
    steps = [
        {"key": "scope", "sla_business_days": 1},
        {"key": "data", "sla_business_days": 2},
        {"key": "signoff", "sla_business_days": 1},
    ]
    normal = dict(sla.step_due_dates(FRIDAY_NOON, steps))
    fast = dict(sla.step_due_dates(FRIDAY_NOON, steps, expedited=True))
    assert normal["signoff"].date().isoformat() == "2026-11-26"  # Mon, Wed, Thu
    assert fast["signoff"].date().isoformat() == "2026-11-23"  # SLAs 0, 1, 0: Fri, Mon, Mon
    assert all(fast[key] <= normal[key] for key in normal)


@pytest.mark.django_db
def test_a_governance_manager_expedites_a_request_its_due_date_moves_earlier_and_it_is_audited():
    # Given a request in review and the team's governance manager
    team = TeamFactory()
    request = request_in_review(registered_model__team=team)
    manager = UserFactory()
    permissions.grant_team_role(manager, "registry.manage_governance", team)
    due_before = request.due_at

    # When the manager expedites it
    expedited = services.promotion_request_expedite(
        actor=manager, request=request, reason="customer launch"
    )

    # Then it is expedited, due no later than before, and the change is in the audit log
    assert expedited.priority > 0
    assert expedited.due_at <= due_before
    event = AuditEvent.objects.get(verb="promotion.expedited")
    assert event.actor == manager
    assert event.data["after"]["priority"] == expedited.priority

    # And expediting it again is a conflict that changes nothing
    before = governance_row_counts()
    with pytest.raises(Conflict):
        services.promotion_request_expedite(actor=manager, request=request, reason="again")
    assert governance_row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["approver", "superuser_without_role", "other_team_manager"])
def test_only_the_team_s_governance_manager_may_expedite(who):
    team = TeamFactory()
    request = request_in_review(registered_model__team=team)
    if who == "approver":
        actor = approver(team, "platform")
    elif who == "superuser_without_role":
        actor = UserFactory(is_superuser=True)
    else:
        actor = UserFactory()
        permissions.grant_team_role(actor, "registry.manage_governance", TeamFactory())
    before = governance_row_counts()
    with pytest.raises(NotPermitted):
        services.promotion_request_expedite(actor=actor, request=request, reason="please")
    request.refresh_from_db()
    assert request.priority == 0
    assert governance_row_counts() == before


@pytest.mark.django_db
def test_a_closed_request_cannot_be_expedited():
    team = TeamFactory()
    request = request_in_review(registered_model__team=team)
    manager = UserFactory()
    permissions.grant_team_role(manager, "registry.manage_governance", team)
    services.promotion_request_withdraw(actor=manager, request=request)
    with pytest.raises(IllegalTransition):
        services.promotion_request_expedite(actor=manager, request=request, reason="late")


@pytest.mark.django_db
def test_the_review_queue_puts_expedited_requests_first_and_flags_overdue_ones():
    # Given two requests in review on one team, the second expedited by a manager
    team = TeamFactory()
    first = request_in_review(registered_model__team=team)
    second = request_in_review(registered_model__team=team)
    manager = UserFactory()
    permissions.grant_team_role(manager, "registry.manage_governance", team)
    services.promotion_request_expedite(actor=manager, request=second, reason="launch")
    reviewer = approver(team, "platform")

    # When the reviewer opens the queue today, and again a month later
    today = list(selectors.review_queue_for(reviewer))
    later = timezone.now() + timedelta(days=30)
    month_later = list(selectors.review_queue_for(reviewer, now=later))

    # Then the expedited request comes first; nothing is overdue today, both are later
    assert [r.pk for r in today] == [second.pk, first.pk]
    assert [r.is_overdue for r in today] == [False, False]
    assert [r.is_overdue for r in month_later] == [True, True]
    assert {r.pk for r in selectors.overdue_requests(reviewer, now=later)} == {first.pk, second.pk}
    assert not selectors.overdue_requests(reviewer).exists()
