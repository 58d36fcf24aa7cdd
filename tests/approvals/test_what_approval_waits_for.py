"""Every signer is told what approval still waits for, the request says what blocks it,
and a manager's exception can return a sent-back request to review (issue 7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from approvals import selectors, services
from approvals.models import CheckException
from audit.models import AuditEvent
from core.errors import Conflict, IllegalTransition, NotPermitted
from tests.approvals.factories import attach, board_policy, eval_package, governance_row_counts
from tests.approvals.test_checks_and_overrides import (
    BOARD,
    CRITICAL_FAILURES,
    submit,
    version_with,
)
from tests.registry.factories import PASSWORD, TeamFactory, approver, manager

pytestmark = pytest.mark.django_db

TIMES = "\u00d7"  # the multiplication sign: "Security approver x1", as people read it


@pytest.fixture
def team():
    """A three-role board whose policy needs quality >= 0.85 (eval_thresholds is not
    critical)."""
    team = TeamFactory(slug="assistants")
    policy = board_policy(team)
    policy.metric_thresholds = {"quality": {"min": 0.85}}
    policy.save()
    return team


def failing_quality(team):
    """A request in review whose only failure is the non-critical eval threshold."""
    version = version_with(team, skip=("eval_package",))
    attach(version, "eval_package", eval_package(version, metrics={"quality": 0.80}))
    request = submit(version)
    assert request.state == "in_review"
    return request


def sign(request, team, role):
    return services.signoff_record(
        actor=approver(team, role), request=request, role=role, password=PASSWORD
    )


def grant(request, team, actor=None):
    return services.check_override(
        actor=actor or manager(team),
        request=request,
        check_name="eval_thresholds",
        justification="Quality dip on one locale accepted for two weeks by the product lead.",
        expires_at=timezone.now() + timedelta(days=14),
    )


def test_each_signer_is_told_which_roles_are_still_needed(team):
    request = failing_quality(team)

    first = selectors.signoff_outcome(sign(request, team, "platform"))

    assert first.startswith("Your sign-off is recorded. Approval also waits for: ")
    assert f"Product approver {TIMES}1" in first
    assert f"Security approver {TIMES}1" in first
    assert "an exception on eval_thresholds (a governance manager)" in first


def test_the_last_signer_learns_the_request_is_not_approved_and_why(team):
    request = failing_quality(team)
    sign(request, team, "platform")
    sign(request, team, "product")

    last = selectors.signoff_outcome(sign(request, team, "security"))

    request.refresh_from_db()
    assert request.state == "in_review"
    assert last == (
        "Your sign-off is recorded. Approval also waits for: an exception on eval_thresholds "
        "(a governance manager) or a passing recheck."
    )


def test_the_last_signer_of_a_clean_request_is_told_it_is_approved(team):
    request = submit(version_with(team))

    for role in BOARD[:-1]:
        sign(request, team, role)
    last = selectors.signoff_outcome(sign(request, team, BOARD[-1]))

    assert last == (
        "Your sign-off is recorded. The request is approved and its decision record signed."
    )


def test_the_request_detail_lists_what_approval_waits_for(team):
    request = failing_quality(team)
    sign(request, team, "platform")

    detail = selectors.request_detail(manager(team), request.pk)

    assert detail.waiting_for == [
        "an exception on eval_thresholds (a governance manager) or a passing recheck",
        f"Product approver {TIMES}1",
        f"Security approver {TIMES}1",
    ]


def test_the_admin_sign_off_message_and_request_page_say_what_still_blocks(team, client):
    request = failing_quality(team)
    signer = approver(team, "platform", is_staff=True)
    signer.user_permissions.add(*Permission.objects.filter(codename="view_promotionrequest"))
    client.force_login(signer)

    response = client.post(
        f"/admin/approvals/promotionrequest/{request.pk}/sign/",
        {"role": "platform", "password": PASSWORD, "meaning": "Approved for production"},
        follow=True,
    )

    content = response.content.decode()
    assert "Approval also waits for: " in content
    assert "an exception on eval_thresholds" in content
    assert f"Product approver {TIMES}1" in content
    assert "waiting for" in content.lower()


def test_a_managers_exception_returns_a_sent_back_request_to_review(team):
    # Given a request whose only failure is non-critical, fully signed, then sent back
    # by a reviewer because of that failure
    request = failing_quality(team)
    for role in BOARD:
        sign(request, team, role)
    services.promotion_request_request_changes(
        actor=approver(team, "platform"),
        request=request,
        reasons=["quality below the threshold: needs an exception or a better checkpoint"],
    )
    request.refresh_from_db()
    request.version.refresh_from_db()
    assert (request.state, request.version.state) == ("changes_requested", "draft")

    # When a manager grants the exception
    grant(request, team)

    # Then the request is back in review, and the earlier sign-offs approve it at once
    request.refresh_from_db()
    request.version.refresh_from_db()
    assert (request.state, request.version.state) == ("approved", "approved")
    event = AuditEvent.objects.get(verb="promotion.exception_granted")
    assert (event.data["before"], event.data["after"]) == (
        {"state": "changes_requested"},
        {"state": "in_review"},
    )
    assert selectors.approval_outcome(request.pk) == (
        "The request is approved and its decision record signed."
    )


def test_a_reopened_request_without_the_quorum_waits_in_review(team):
    request = failing_quality(team)
    services.promotion_request_request_changes(
        actor=approver(team, "product"), request=request, reasons=["needs an exception"]
    )

    grant(request, team)

    request.refresh_from_db()
    assert request.state == "in_review"
    assert selectors.approval_outcome(request.pk) == (
        f"Approval also waits for: Platform approver {TIMES}1; Product approver {TIMES}1; "
        f"Security approver {TIMES}1."
    )


def test_a_request_sent_back_for_a_critical_failure_cannot_be_reopened(team):
    # Given a request the checks sent back: a critical failure and a non-critical one
    version = version_with(team, skip=("eval_package", "sbom"))
    attach(version, "eval_package", eval_package(version, metrics={"quality": 0.80}))
    request = submit(version)
    assert request.state == "changes_requested"
    before = governance_row_counts()

    with pytest.raises(IllegalTransition, match="critical checks \\(sbom\\)"):
        grant(request, team)

    request.refresh_from_db()
    assert request.state == "changes_requested"
    assert CheckException.objects.count() == 0
    assert governance_row_counts() == before
    assert selectors.request_detail(manager(team), request.pk).waiting_for[0] == (
        "a new submission from CI (the request was sent back)"
    )


def test_a_sent_back_request_is_not_reopened_after_its_evidence_changed(team):
    request = failing_quality(team)
    services.promotion_request_request_changes(
        actor=approver(team, "product"), request=request, reasons=["fix it"]
    )
    attach(request.version, "eval_package", eval_package(request.version))
    before = governance_row_counts()

    with pytest.raises(Conflict, match="changed since the checks ran"):
        grant(request, team)

    request.refresh_from_db()
    assert request.state == "changes_requested"
    assert governance_row_counts() == before


def test_a_sent_back_request_is_not_reopened_when_a_newer_one_is_open(team):
    request = failing_quality(team)
    services.promotion_request_request_changes(
        actor=approver(team, "product"), request=request, reasons=["fix it"]
    )
    newer = submit(request.version)
    assert newer.state == "in_review"
    before = governance_row_counts()

    with pytest.raises(Conflict):
        grant(request, team)

    assert governance_row_counts() == before


def test_only_a_manager_may_reopen_with_an_exception(team):
    request = failing_quality(team)
    services.promotion_request_request_changes(
        actor=approver(team, "product"), request=request, reasons=["fix it"]
    )
    before = governance_row_counts()

    with pytest.raises(NotPermitted):
        grant(request, team, actor=approver(team, "security"))

    request.refresh_from_db()
    assert request.state == "changes_requested"
    assert governance_row_counts() == before


@pytest.mark.parametrize("case", ["sbom_missing", "critical_cve"])
def test_a_critical_failure_says_no_exception_can_help(team, case):
    request = submit(version_with(team, **CRITICAL_FAILURES[case][1]))

    waiting = selectors.request_detail(manager(team), request.pk).waiting_for

    assert waiting[0] == "a new submission from CI (the request was sent back)"
    assert any(item.startswith("critical check") for item in waiting[1:])
