"""History rows name who acted (simple-history's ``history_user``), also for writes made
outside a web request: the actor the service checked, or the system for a task."""

from __future__ import annotations

import pytest
from django.test import Client

from approvals import services, tasks
from approvals.models import PromotionRequest
from registry.models import Team
from tests.approvals.factories import (
    attach_passing_evidence,
    board_policy,
    ci_user,
    request_in_review,
)
from tests.registry.factories import TeamFactory, approver, manager, ready_version


@pytest.mark.django_db
def test_a_service_called_outside_a_request_records_its_actor_in_the_history():
    # Given a request in review and its team's governance manager
    request = request_in_review(registered_model__team=TeamFactory(slug="assistants"))
    person = manager(request.version.registered_model.team, username="maria")

    # When she expedites it through the service (a command or the demo would)
    services.promotion_request_expedite(actor=person, request=request, reason="launch day")

    # Then the history row of the change names her, and the history page shows her
    latest = PromotionRequest.history.filter(id=request.pk).latest("history_id")
    assert (latest.expedite_reason, latest.history_user) == ("launch day", person)
    reviewer = approver(request.version.registered_model.team, "platform")
    client = Client()
    client.force_login(reviewer)
    page = client.get(f"/admin/approvals/promotionrequest/{request.pk}/history/")
    assert page.status_code == 200
    assert "maria" in page.content.decode()


@pytest.mark.django_db
def test_a_task_writes_history_as_the_system_naming_the_task():
    # Given a request submitted by the team's CI, its checks not yet run
    team = TeamFactory(slug="assistants")
    version = ready_version(registered_model__team=team)
    board_policy(team)
    attach_passing_evidence(version)
    request = services.promotion_request_submit(
        actor=ci_user(team), version=version, run_checks_now=False
    )
    assert request.state == "submitted"

    # When the worker's task runs the checks
    result = tasks.run_promotion_checks.apply(args=[request.pk])

    # Then the rows it wrote name no person and say which task wrote them
    assert result.get() == "in_review"
    written = PromotionRequest.history.filter(id=request.pk, state__in=["checking", "in_review"])
    assert {(row.history_user_id, row.history_change_reason) for row in written} == {
        (None, f"system:task {result.id}")
    }


@pytest.mark.django_db(transaction=True)
def test_a_noted_actor_does_not_carry_over_to_a_later_transaction(seeded_policies):
    # Given a manager's expedite, committed
    request = request_in_review(registered_model__team=TeamFactory(slug="assistants"))
    person = manager(request.version.registered_model.team)
    services.promotion_request_expedite(actor=person, request=request, reason="launch day")

    # When something is written afterwards without any actor (outside the service)
    team = TeamFactory(slug="vision")

    # Then its history row names nobody
    assert Team.history.get(id=team.pk).history_user is None
