"""Sign-offs are refused unless the right person signs the right role, freshly
re-authenticated, on a request in review; a refusal changes nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from approvals import services
from approvals.models import PromotionRequest, SignOff
from audit.models import AuditEvent
from core import permissions
from core.errors import Conflict, IllegalTransition, NotPermitted
from registry.models import ModelVersion
from tests.approvals.factories import (
    attach_passing_evidence,
    board_policy,
    governance_row_counts,
    request_in_review,
    run_checks,
)
from tests.registry.factories import (
    PASSWORD,
    TeamFactory,
    UserFactory,
    approver,
    ready_version,
    service_account_with_token,
    team_member,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return TeamFactory(slug="assistants")


@pytest.fixture
def review(team):
    """A request in review on ``team`` (submitted by the team's CI)."""
    return request_in_review(registered_model__team=team)


def snapshot(request: PromotionRequest) -> dict:
    """Everything a refused sign-off must leave as it was."""
    request.refresh_from_db()
    version = ModelVersion.objects.get(pk=request.version_id)
    # A failed re-authentication is itself audited (auth.*, the sign-in lockout counts it);
    # nothing of the governance record may change.
    governance_events = AuditEvent.objects.exclude(verb__startswith="auth.")
    return {
        **governance_row_counts(),
        "audit_events": governance_events.count(),
        "request_state": request.state,
        "version_state": version.state,
        "last_event": governance_events.order_by("-id").values_list("id", flat=True).first(),
    }


def failed_reauthentications() -> int:
    return AuditEvent.objects.filter(verb="auth.reauthentication_failed").count()


def sign(actor, request, role, password=PASSWORD):
    return services.signoff_record(actor=actor, request=request, role=role, password=password)


def test_a_signer_with_the_role_on_the_team_can_sign_so_the_refusals_are_meaningful(team, review):
    # Given a platform approver of the team / When they sign as platform
    signoff = sign(approver(team, "platform"), review, "platform")

    # Then the sign-off is recorded for the reviewed checksum
    assert signoff.role == "platform"
    assert signoff.signed_checksum == review.version.checksum
    assert SignOff.objects.count() == 1


def test_a_platform_approver_cannot_sign_as_security(team, review):
    # Given someone holding only the platform role
    platform = approver(team, "platform")
    before = snapshot(review)

    # When they sign as security
    with pytest.raises(NotPermitted, match="do not hold the security approver role"):
        sign(platform, review, "security")

    # Then nothing changed
    assert snapshot(review) == before


def test_an_approver_of_another_team_cannot_sign(team, review):
    # Given a platform approver of another team
    outsider = approver(TeamFactory(slug="vision"), "platform")
    before = snapshot(review)

    # When they sign this team's request as platform
    with pytest.raises(NotPermitted, match="platform approver role for team assistants"):
        sign(outsider, review, "platform")

    # Then nothing changed
    assert snapshot(review) == before


def test_the_person_who_submitted_the_request_cannot_sign_it(team):
    # Given a person who may register for the team, holds the platform role, and submitted
    requester = team_member(team, "register_versions", "sign_as_platform")
    version = ready_version(registered_model__team=team)
    board_policy(team)
    attach_passing_evidence(version)
    request = run_checks(services.promotion_request_submit(actor=requester, version=version))
    assert request.state == "in_review"
    before = snapshot(request)

    # When they sign their own request
    with pytest.raises(NotPermitted, match="requester cannot sign their own request"):
        sign(requester, request, "platform")

    # Then nothing changed
    assert snapshot(request) == before


def test_one_person_cannot_sign_for_two_roles_on_one_request(team, review):
    # Given someone holding the platform and product roles, who signed as platform
    both = approver(team, "platform", "product")
    sign(both, review, "platform")
    before = snapshot(review)

    # When they sign the same request as product
    with pytest.raises(NotPermitted, match="already signed this request"):
        sign(both, review, "product")

    # Then nothing changed: one sign-off, still in review
    assert snapshot(review) == before
    assert list(SignOff.objects.values_list("role", flat=True)) == ["platform"]


@pytest.mark.parametrize("password", ["wrong password", "", PASSWORD.upper()])
def test_a_sign_off_without_the_signers_password_is_refused(team, review, password):
    # Given the platform approver
    platform = approver(team, "platform")
    before = snapshot(review)

    # When they sign with a wrong or empty password
    with pytest.raises(NotPermitted, match="Re-authentication failed"):
        sign(platform, review, "platform", password=password)

    # Then nothing changed, and a wrong password (not an empty one) is an audited failure
    assert snapshot(review) == before
    assert failed_reauthentications() == (1 if password else 0)


def test_a_superuser_without_the_object_permission_cannot_sign(team, review):
    # Given a superuser who holds no signing role on the team
    superuser = UserFactory(is_superuser=True)
    before = snapshot(review)

    # When they sign as platform
    with pytest.raises(NotPermitted, match="do not hold the platform approver role"):
        sign(superuser, review, "platform")

    # Then nothing changed
    assert snapshot(review) == before


def test_a_global_signing_permission_does_not_let_anyone_sign(team, review):
    # Given a user holding only the global (model-level) approvals.sign_as_platform
    holder = UserFactory()
    holder.user_permissions.add(Permission.objects.get(codename="sign_as_platform"))
    holder = type(holder).objects.get(pk=holder.pk)  # fresh permission cache
    assert holder.has_perm("approvals.sign_as_platform")
    before = snapshot(review)

    # When they sign as platform
    with pytest.raises(NotPermitted, match="do not hold the platform approver role"):
        sign(holder, review, "platform")

    # Then nothing changed
    assert snapshot(review) == before


def test_a_request_sent_back_for_changes_cannot_be_signed(team):
    # Given a request whose baseline checks failed (no evaluation dataset)
    account, _ = service_account_with_token(teams=[team])
    incomplete = ready_version(registered_model__team=team)
    incomplete.dataset_links.filter(use="eval").delete()
    request = run_checks(services.promotion_request_submit(actor=account.user, version=incomplete))
    assert request.state == "changes_requested"
    platform = approver(team, "platform")
    before = snapshot(request)

    # When the platform approver signs it
    with pytest.raises(IllegalTransition, match="changes_requested; only requests in review"):
        sign(platform, request, "platform")

    # Then nothing changed
    assert snapshot(request) == before


def test_an_approved_request_cannot_be_signed_again(team, review):
    # Given a request approved by the three roles
    for role in ("platform", "product", "security"):
        sign(approver(team, role), review, role)
    review.refresh_from_db()
    assert review.state == "approved"
    late = approver(team, "platform")
    before = snapshot(review)

    # When another platform approver signs it
    with pytest.raises(IllegalTransition, match="The request is approved"):
        sign(late, review, "platform")

    # Then nothing changed
    assert snapshot(review) == before
    assert before["version_state"] == "approved"


def test_a_role_already_at_quorum_is_a_conflict(team, review):
    # Given the platform role already signed (quorum 1)
    sign(approver(team, "platform"), review, "platform")
    second = approver(team, "platform")
    before = snapshot(review)

    # When a second platform approver signs
    with pytest.raises(Conflict, match="platform sign-off quorum is already met") as refused:
        sign(second, review, "platform")

    # Then it is a plain conflict (not a lifecycle error), and nothing changed
    assert type(refused.value) is Conflict
    assert snapshot(review) == before


def test_a_service_account_cannot_sign_even_with_the_role_and_a_password(team, review):
    # Given the team's CI user, wrongly granted the platform role and given a password
    account, _ = service_account_with_token(teams=[team])
    ci_user = account.user
    permissions.grant_team_role(ci_user, "approvals.sign_as_platform", team)
    ci_user.set_password(PASSWORD)
    ci_user.save()
    before = snapshot(review)

    # When it signs as platform
    with pytest.raises(NotPermitted, match="do not hold the platform approver role"):
        sign(ci_user, review, "platform")

    # Then nothing changed
    assert snapshot(review) == before


def test_a_service_account_without_a_password_fails_re_authentication(team, review):
    # Given the team's CI user (unusable password)
    account, _ = service_account_with_token(teams=[team])
    before = snapshot(review)

    # When it signs with any password
    with pytest.raises(NotPermitted, match="Re-authentication failed"):
        sign(account.user, review, "platform", password="anything")

    # Then nothing changed but the audited failure
    assert snapshot(review) == before
    assert failed_reauthentications() == 1


# --- the same refusals through the admin's sign view ------------------------------------


def admin_sign(user, request, role, password=PASSWORD):
    browser = Client()
    browser.force_login(user)
    return browser.post(
        f"/admin/approvals/promotionrequest/{request.pk}/sign/",
        {"role": role, "password": password, "meaning": "Approved for production promotion"},
    )


def test_the_admin_sign_view_records_a_valid_sign_off(team, review):
    # Given the platform approver / When they sign in the admin
    response = admin_sign(approver(team, "platform"), review, "platform")

    # Then they are redirected to the request and the sign-off exists
    assert response.status_code == 302
    assert SignOff.objects.filter(request=review, role="platform").count() == 1


@pytest.mark.parametrize(
    ("who", "role", "password", "status", "message"),
    [
        ("platform", "security", PASSWORD, 200, "Select a valid choice"),
        ("platform", "platform", "wrong password", 200, "Re-authentication failed"),
        ("platform", "platform", "", 200, "This field is required"),
        # Nothing left to sign: a refusal page instead of the form (issue 11).
        ("platform+product-signed", "product", PASSWORD, 403, "already signed this request"),
        ("second-platform", "platform", PASSWORD, 403, "quorum is already met"),
    ],
)
def test_the_admin_sign_view_refuses_and_changes_nothing(
    team, review, who, role, password, status, message
):
    # Given a board member in one of the refused situations
    if who == "platform+product-signed":
        user = approver(team, "platform", "product")
        sign(user, review, "platform")
    elif who == "second-platform":
        sign(approver(team, "platform"), review, "platform")
        user = approver(team, "platform")
    else:
        user = approver(team, "platform")
    before = snapshot(review)

    # When they post the sign form
    response = admin_sign(user, review, role, password=password)

    # Then the form is shown again with the reason (or refused), and nothing changed
    assert response.status_code == status
    assert message in response.content.decode()
    assert snapshot(review) == before


def test_the_admin_sign_view_is_a_404_for_a_board_member_of_another_team(team, review):
    # Given a platform approver of another team
    outsider = approver(TeamFactory(slug="vision"), "platform")
    before = snapshot(review)

    # When they post the sign form for this team's request
    response = admin_sign(outsider, review, "platform")

    # Then the request does not exist for them, and nothing changed
    assert response.status_code == 404
    assert snapshot(review) == before


def test_the_admin_sign_view_refuses_a_superuser_without_the_role(team, review):
    # Given a superuser without any signing role
    before = snapshot(review)

    # When they post the sign form as platform
    response = admin_sign(UserFactory(is_superuser=True), review, "platform")

    # Then no role awaits them: the sign page is a refusal, and nothing changed
    assert response.status_code == 403
    assert "you hold no board role" in response.content.decode()
    assert snapshot(review) == before
