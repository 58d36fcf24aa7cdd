""" "Awaiting your sign-off": the one selector behind the landing page, the navigation badge,
the admin filter and the API. A request is in a person's queue exactly while a role they
hold on its team is still missing and they may sign it."""

from __future__ import annotations

import pytest

from approvals import selectors, services
from core.permissions import REGISTER, grant_team_role
from tests.approvals.factories import (
    attach,
    attach_passing_evidence,
    board_policy,
    request_in_review,
    run_checks,
)
from tests.registry.factories import (
    PASSWORD,
    TeamFactory,
    approver,
    ready_version,
    team_member,
)

pytestmark = pytest.mark.django_db
# Security needs two people: a filled role drops out for its other holders only at quorum.
ROLES = {"platform": 1, "product": 1, "security": 2}


def sign(user, request, role):
    return services.signoff_record(actor=user, request=request, role=role, password=PASSWORD)


def queue(user) -> list[int]:
    return list(selectors.review_queue_for(user).values_list("pk", flat=True))


@pytest.fixture
def board():
    """Team "assistants" with one approver per role (two for security), and another team."""
    team = TeamFactory(slug="assistants")
    return {
        "team": team,
        "other_team": TeamFactory(slug="vision"),
        "platform": approver(team, "platform", username="pia"),
        "product": approver(team, "product", username="paul"),
        "security": approver(team, "security", username="sam"),
        "security_2": approver(team, "security", username="sara"),
    }


def test_each_approver_sees_exactly_the_requests_that_still_need_their_role(board):
    # Given two requests in review on the team, the first already signed for platform,
    # and one on another team
    first = request_in_review(registered_model__team=board["team"], roles=ROLES)
    second = request_in_review(registered_model__team=board["team"], roles=ROLES)
    request_in_review(registered_model__team=board["other_team"], roles=ROLES)
    sign(approver(board["team"], "platform", username="pat"), first, "platform")

    # When each approver opens the queue
    seen = {name: queue(board[name]) for name in ("platform", "product", "security")}

    # Then platform sees only the second; product and security see both, oldest first
    assert seen == {
        "platform": [second.pk],
        "product": [first.pk, second.pk],
        "security": [first.pk, second.pk],
    }
    assert selectors.roles_to_sign(board["platform"], first) == []
    assert selectors.roles_to_sign(board["platform"], second) == ["platform"]


def test_signing_takes_the_request_out_of_the_signers_queue_and_out_of_a_filled_roles_queues(
    board,
):
    request = request_in_review(registered_model__team=board["team"], roles=ROLES)

    # When the product approver signs
    sign(board["product"], request, "product")
    # Then it leaves her queue (her role is filled) and stays in the security approvers'
    assert queue(board["product"]) == []
    assert queue(board["security"]) == [request.pk]
    assert queue(board["security_2"]) == [request.pk]

    # When one security approver signs (quorum 2), it leaves his queue only
    sign(board["security"], request, "security")
    assert queue(board["security"]) == []
    assert queue(board["security_2"]) == [request.pk]
    assert selectors.roles_to_sign(board["security"], request) == []
    assert selectors.roles_to_sign(board["security_2"], request) == ["security"]

    # When the second one signs, the security role is filled: nobody else holding it waits
    sign(board["security_2"], request, "security")
    late_security = approver(board["team"], "security", username="sid")
    assert queue(board["security_2"]) == []
    assert queue(late_security) == []
    assert queue(board["platform"]) == [request.pk]


def test_a_person_holding_two_roles_who_signed_one_is_not_asked_for_the_other(board):
    # Given a person holding platform and product, who signed as product
    both = approver(board["team"], "platform", "product", username="bo")
    request = request_in_review(registered_model__team=board["team"], roles=ROLES)
    assert selectors.roles_to_sign(both, request) == ["platform", "product"]
    sign(both, request, "product")

    # Then the request leaves their queue: one person signs for one role per request
    assert queue(both) == []
    assert selectors.roles_to_sign(both, request) == []
    assert queue(board["platform"]) == [request.pk]


def test_the_requester_never_sees_their_own_request(board):
    # Given a platform approver who may also register, and requests a promotion herself
    requester = approver(board["team"], "platform", username="rita")
    grant_team_role(requester, REGISTER, board["team"])
    version = ready_version(registered_model__team=board["team"])
    board_policy(board["team"], ROLES)
    attach_passing_evidence(version)
    request = run_checks(services.promotion_request_submit(actor=requester, version=version))
    assert (request.state, request.requested_by_id) == ("in_review", requester.pk)

    # Then it is in the other platform approver's queue and not in hers
    assert queue(requester) == []
    assert selectors.roles_to_sign(requester, request) == []
    assert queue(board["platform"]) == [request.pk]


def test_requests_of_another_team_and_requests_not_in_review_are_not_in_the_queue(board):
    # Given a request of another team, and a request of the team sent back to CI
    request_in_review(registered_model__team=board["other_team"], roles=ROLES)
    sent_back = request_in_review(registered_model__team=board["team"], roles=ROLES)
    services.promotion_request_request_changes(
        actor=board["product"], request=sent_back, reasons=["add the eval report"]
    )

    # Then nobody on the team is waited for, and a manager of the team holds no board role
    assert {name: queue(board[name]) for name in ("platform", "product", "security")} == {
        "platform": [],
        "product": [],
        "security": [],
    }
    assert queue(team_member(board["team"], "manage_governance")) == []


def test_a_sign_off_that_no_longer_counts_puts_the_request_back_in_the_queue(board):
    # Given a platform sign-off, then new evidence and a re-run of the checks
    request = request_in_review(registered_model__team=board["team"], roles=ROLES)
    sign(board["platform"], request, "platform")
    assert queue(board["platform"]) == []
    attach(request.version, "sbom", b'{"bomFormat": "CycloneDX", "specVersion": "1.6"}')
    services.promotion_request_recheck(
        actor=team_member(board["team"], "manage_governance"), request=request
    )
    request = run_checks(request)
    assert request.state == "in_review"

    # Then the old sign-off is bound to other evidence: platform is missing again
    assert queue(board["platform"]) == [request.pk]
    assert selectors.roles_to_sign(board["platform"], request) == ["platform"]
    assert services.assess(request).missing_roles == {"platform": 1, "product": 1, "security": 2}


def test_expedited_requests_come_first_then_the_earliest_due(board):
    older = request_in_review(registered_model__team=board["team"], roles=ROLES)
    newer = request_in_review(registered_model__team=board["team"], roles=ROLES)
    services.promotion_request_expedite(
        actor=team_member(board["team"], "manage_governance"), request=newer, reason="launch"
    )

    assert queue(board["product"]) == [newer.pk, older.pk]
    assert selectors.awaiting_count(board["product"]) == 2
