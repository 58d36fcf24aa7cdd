"""The manager's exception form: only failed non-critical checks are offered, the others
are listed with why not, the expiry is a date within the policy's maximum, and the button
shows (and the action runs) only where something can be excepted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from approvals import services
from approvals.checks import CRITICAL_REFUSAL, PASSED_REFUSAL, exception_max_days
from approvals.forms.override import SENT_BACK_WITH_CRITICAL
from approvals.models import CheckException, PromotionRequest
from core.errors import InvalidInput
from tests.approvals import test_checks_and_overrides
from tests.approvals.admin.dashboard_scenario import dashboard_manager
from tests.approvals.factories import (
    SAMPLES,
    attach,
    eval_package,
    governance_row_counts,
    request_in_review,
)
from tests.approvals.test_checks_and_overrides import submit, version_with
from tests.registry.factories import TeamFactory, approver

pytestmark = pytest.mark.django_db

#: The fixture of the checks tests: a team whose policy needs quality >= 0.85.
team = test_checks_and_overrides.team

JUSTIFICATION = "Accepted for the pilot; retrain scheduled for next sprint."


def request_failing_thresholds(team, *, extra=None) -> PromotionRequest:
    """A request whose only non-critical failure is the eval thresholds (quality 0.80)."""
    version = version_with(team, skip=("eval_package",), extra=extra)
    attach(version, "eval_package", eval_package(version, metrics={"quality": 0.80}))
    return submit(version)


def override_url(request: PromotionRequest) -> str:
    return f"/admin/approvals/promotionrequest/{request.pk}/override/"


def change_url(request: PromotionRequest) -> str:
    return f"/admin/approvals/promotionrequest/{request.pk}/change/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def nothing_changed_since(before: dict, request: PromotionRequest) -> None:
    assert governance_row_counts() == before
    assert CheckException.objects.filter(request=request).count() == 0
    assert PromotionRequest.objects.get(pk=request.pk).state == request.state


def test_the_form_offers_only_the_failed_non_critical_check_and_says_why_not_the_others(team):
    # Given a request in review that failed only its eval thresholds, and the team's manager
    request = request_failing_thresholds(team)
    assert request.state == "in_review"
    client = signed_in(dashboard_manager(team))

    # When the manager opens the exception form
    page = client.get(override_url(request))

    # Then the only choice is the failed non-critical check
    assert page.status_code == 200
    form = page.context["form"]
    assert [name for name, _ in form.fields["check_name"].choices] == ["eval_thresholds"]
    # And every critical check is listed as not overridable, and passing ones as passed
    html = page.content.decode()
    for name in ("sbom", "provenance", "artifact_checksum", "dependency_scan", "evals_fresh"):
        assert f"<strong>{name}: " in html
    assert html.count(f"</strong>: {CRITICAL_REFUSAL}</li>") >= 5
    assert f"<strong>model_signature: OpenSSF model signature</strong>: {PASSED_REFUSAL}" in html
    # And the expiry is a date picker bounded by the policy's maximum
    today = timezone.localdate()
    last = today + timedelta(days=exception_max_days(request.policy_snapshot))
    assert 'type="date"' in html
    assert f'max="{last.isoformat()}"' in html and f'min="{(today + timedelta(days=1))}"' in html


def test_a_manager_grants_the_exception_through_the_form(team):
    # Given the request and its manager
    request = request_failing_thresholds(team)
    client = signed_in(dashboard_manager(team))
    expires_on = timezone.localdate() + timedelta(days=14)

    # When they except the eval thresholds until a date
    response = client.post(
        override_url(request),
        {
            "check_name": "eval_thresholds",
            "justification": JUSTIFICATION,
            "expires_at": expires_on.isoformat(),
        },
    )

    # Then the exception is recorded until the start of that day
    assert response.status_code == 302, response.context["form"].errors
    exception = CheckException.objects.get(request=request)
    assert (exception.check_name, timezone.localtime(exception.expires_at).date()) == (
        "eval_thresholds",
        expires_on,
    )


@pytest.mark.parametrize(
    "case",
    ["critical check", "passing check", "expiry past the maximum", "expiry today"],
)
def test_refused_exceptions_change_nothing(team, case):
    # Given the request and its manager
    request = request_failing_thresholds(team)
    client = signed_in(dashboard_manager(team))
    last = timezone.localdate() + timedelta(days=exception_max_days(request.policy_snapshot))
    data = {
        "check_name": "eval_thresholds",
        "justification": JUSTIFICATION,
        "expires_at": (last - timedelta(days=1)).isoformat(),
    }
    data.update(
        {
            "critical check": {"check_name": "sbom"},
            "passing check": {"check_name": "model_signature"},
            "expiry past the maximum": {"expires_at": (last + timedelta(days=1)).isoformat()},
            "expiry today": {"expires_at": timezone.localdate().isoformat()},
        }[case]
    )
    before = governance_row_counts()

    # When the manager posts the form
    response = client.post(override_url(request), data)

    # Then the form shows the error and nothing changed
    assert response.status_code == 200
    field = "expires_at" if case.startswith("expiry") else "check_name"
    assert response.context["form"].errors[field]
    nothing_changed_since(before, request)


def test_a_request_sent_back_for_a_critical_failure_offers_no_exception_and_says_why(team):
    # Given a request sent back for an open critical CVE and the quality miss
    request = request_failing_thresholds(
        team, extra={"dependency_scan": SAMPLES / "trivy-vulnerable.json"}
    )
    assert request.state == "changes_requested"
    client = signed_in(dashboard_manager(team))
    before = governance_row_counts()

    # When the manager opens the request and then the exception form anyway
    buttons = [a["label"] for a in client.get(change_url(request)).context["service_actions"]]
    page = client.get(override_url(request))

    # Then no exception is offered (none could return it to review), and the refusal says
    # the critical check cannot be overridden and why the quality miss cannot help
    assert "Grant exception" not in buttons
    assert page.status_code == 403
    html = page.content.decode()
    assert f"dependency_scan: {CRITICAL_REFUSAL}" in html
    assert f"eval_thresholds: {SENT_BACK_WITH_CRITICAL}" in html
    nothing_changed_since(before, request)


def test_the_button_shows_only_where_a_failed_check_can_be_excepted(team):
    # Given a request whose checks all passed and one that failed its thresholds
    clean = request_in_review(registered_model__team=team)
    failing = request_failing_thresholds(team)
    client = signed_in(dashboard_manager(team))

    # When the manager opens both
    buttons = {
        name: [a["label"] for a in client.get(change_url(r)).context["service_actions"]]
        for name, r in (("clean", clean), ("failing", failing))
    }

    # Then only the failing one offers "Grant exception"
    assert "Grant exception" not in buttons["clean"]
    assert "Grant exception" in buttons["failing"]


def test_a_post_to_the_unavailable_override_is_403_and_runs_nothing(team):
    # Given a request whose checks all passed
    request = request_in_review(registered_model__team=team)
    client = signed_in(dashboard_manager(team))
    before = governance_row_counts()

    # When the manager posts the override form anyway
    response = client.post(
        override_url(request),
        {
            "check_name": "model_signature",
            "justification": JUSTIFICATION,
            "expires_at": (timezone.localdate() + timedelta(days=3)).isoformat(),
        },
    )

    # Then it is refused, saying why, and nothing changed
    assert response.status_code == 403
    assert f"sbom: {CRITICAL_REFUSAL}" in response.content.decode()
    assert f"model_signature: {PASSED_REFUSAL}" in response.content.decode()
    nothing_changed_since(before, request)


@pytest.mark.parametrize("who", ["board member", "other team's manager"])
def test_people_who_do_not_manage_the_team_cannot_grant_exceptions(team, who):
    # Given a failing request and someone who is not its team's manager
    request = request_failing_thresholds(team)
    person = {
        "board member": lambda: approver(team, "platform"),
        "other team's manager": lambda: dashboard_manager(TeamFactory()),
    }[who]()
    before = governance_row_counts()

    # When they post the override form
    response = signed_in(person).post(
        override_url(request),
        {
            "check_name": "eval_thresholds",
            "justification": JUSTIFICATION,
            "expires_at": (timezone.localdate() + timedelta(days=3)).isoformat(),
        },
    )

    # Then it is refused (403; another team's request is not even found) and nothing changed
    assert response.status_code == (403 if who == "board member" else 404)
    nothing_changed_since(before, request)


def test_the_service_refuses_an_expiry_past_the_policys_maximum(team):
    # Given a policy allowing exceptions of at most 14 days
    request = request_failing_thresholds(team)
    snapshot = {**request.policy_snapshot, "max_exception_days": 14}
    PromotionRequest.objects.filter(pk=request.pk).update(policy_snapshot=snapshot)
    before = governance_row_counts()

    # When a manager asks the service for 20 days
    with pytest.raises(InvalidInput, match="at most 14 days"):
        services.check_override(
            actor=dashboard_manager(team),
            request=request,
            check_name="eval_thresholds",
            justification=JUSTIFICATION,
            expires_at=timezone.now() + timedelta(days=20),
        )

    # Then nothing changed
    nothing_changed_since(before, request)


def test_the_policys_maximum_is_its_own_or_its_approval_validity_and_never_over_a_year():
    assert exception_max_days({"max_exception_days": 14, "approval_validity_days": 90}) == 14
    assert exception_max_days({"approval_validity_days": 60}) == 60
    assert exception_max_days({"approval_validity_days": 1000}) == 365
