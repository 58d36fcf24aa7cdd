"""The review page: a promotion request's admin page shows a board member everything
they decide on (header, what is still needed, checks with numbers, findings, exceptions,
model card, runbook, changes since the last approval, sign-offs, the verified decision
record), in a fixed number of queries, and the envelope downloads instead of inlining."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from approvals import services
from approvals.models import DecisionRecord, PromotionRequest
from approvals.review_page import (
    EXCEPTED,
    FAILED,
    NOT_APPLICABLE,
    PASSED,
    decision_summary,
    review_page,
)
from registry.models import ModelVersion
from registry.semver import parse
from tests.approvals.admin.review_scenario import (
    HIGH_CVE,
    LOW_CVE,
    NOISY_QUALITY_TEXT,
    review_scenario,
)
from tests.approvals.factories import governance_row_counts
from tests.registry.factories import TeamFactory, approver, manager

pytestmark = pytest.mark.django_db

TIMES = "\u00d7"


@pytest.fixture
def scenario():
    return review_scenario()


def page_of(user, request: PromotionRequest, suffix: str = "change/"):
    client = Client()
    client.force_login(user)
    return client.get(f"/admin/approvals/promotionrequest/{request.pk}/{suffix}")


def test_the_header_names_the_model_version_team_checksum_risk_requester_policy_and_due_date(
    scenario,
):
    # Given a request in review; When a security approver opens its page
    response = page_of(scenario.reviewer, scenario.in_review)

    # Then the header says what is being decided, by name (never "2@1.1.0")
    assert response.status_code == 200
    header = _section(response, "review-header")
    request = scenario.in_review
    for text in (
        "support-drafter",
        "1.1.0",
        "Adapter (LoRA, prefix...)",
        "assistants",
        request.version.checksum,
        "Medium",
        request.requested_by.get_username(),
        "board-assistants v1",
        f"{request.due_at:%Y-%m-%d %H:%M} UTC",
    ):
        assert text in header, text
    old_label = f"{request.version.registered_model_id}@{request.version.version}"
    assert old_label not in response.content.decode()


def test_a_banner_says_which_roles_are_still_needed(scenario):
    response = page_of(scenario.reviewer, scenario.in_review)

    banner = _section(response, "waiting-for", tag="p")
    assert "Waiting for:" in banner
    assert f"Product approver {TIMES}1, Security approver {TIMES}1" in banner
    assert "Platform approver" not in banner  # signed already


def test_checks_list_failures_first_with_each_threshold_as_value_against_limit(scenario):
    # When the page is read for the request in review
    page = review_page(scenario.reviewer, scenario.in_review.pk)

    # Then the failed threshold check comes first, then the not-applicable one, then passes
    statuses = [(check.name, check.status) for check in page.checks]
    assert statuses[0] == ("eval_thresholds", FAILED)
    assert statuses[1] == ("model_signature", NOT_APPLICABLE)
    assert {status for _, status in statuses[2:]} == {PASSED}
    # And each bound is a row per segment, the missed one first, without float noise
    thresholds = [
        (row.metric, row.segment, row.value, row.comparison, row.limit, row.passed)
        for row in page.checks[0].thresholds
    ]
    assert thresholds == [
        ("quality", "overall", "0.78", ">=", "0.85", False),
        ("quality", "locale:en", "0.93", ">=", "0.85", True),
        ("quality", "locale:de", "0.86", ">=", "0.85", True),
    ]
    # And critical checks are marked (the always-critical ones among them)
    critical = {check.name for check in page.checks if check.critical}
    assert {"sbom", "provenance", "dependency_scan", "evals_fresh"} <= critical
    assert "eval_thresholds" not in critical


def test_the_checks_say_their_result_in_words_not_by_colour_alone(scenario):
    response = page_of(scenario.reviewer, scenario.in_review)

    checks = _section(response, "checks")
    assert "1 failed" in checks
    assert "✗ Failed" in checks
    assert "○ Not applicable</span>" in checks  # not a green pass
    assert "✓ Passed" in checks
    assert "critical</strong> (no exception possible)" in checks
    assert "✗ missed" in checks and "✓ met" in checks
    assert "<td>0.78</td><td>&gt;= 0.85</td>" in checks
    assert NOISY_QUALITY_TEXT not in response.content.decode()


def test_vulnerability_findings_show_id_package_severity_fix_and_status(scenario):
    page = review_page(scenario.reviewer, scenario.in_review.pk)

    assert [
        (f.vulnerability_id, f.package, f.severity, f.fixed_version, f.status)
        for f in page.findings
    ] == [
        (HIGH_CVE, "requests", "high", "2.32.0", "open"),
        (LOW_CVE, "libfoo", "low", "", "open"),
    ]
    findings = _section(page_of(scenario.reviewer, scenario.in_review), "findings")
    assert HIGH_CVE in findings and LOW_CVE in findings
    assert "no fix released" in findings


def test_an_exception_shows_who_granted_it_why_and_until_when(scenario):
    # Given a manager's exception on the failed threshold
    team_manager = manager(scenario.team, username="governance-manager")
    expires_at = scenario.in_review.created_at + timedelta(days=14)
    services.check_override(
        actor=team_manager,
        request=scenario.in_review,
        check_name="eval_thresholds",
        justification="Quality dip accepted for two weeks by the product lead.",
        expires_at=expires_at,
    )

    # When the page is opened
    response = page_of(scenario.reviewer, scenario.in_review)

    # Then the exception names the manager, the justification and the expiry
    exceptions = _section(response, "exceptions")
    assert "governance-manager" in exceptions
    assert "Quality dip accepted for two weeks by the product lead." in exceptions
    assert f"{expires_at:%Y-%m-%d %H:%M} UTC" in exceptions
    # And the check reads as failed with an exception, after nothing else has failed
    page = response.context["page"]
    assert (page.checks[0].name, page.checks[0].status) == ("eval_thresholds", EXCEPTED)
    assert "Failed, exception granted" in _section(response, "checks")


def test_the_model_card_shows_lineage_method_datasets_uses_mitigations_and_owners(scenario):
    response = page_of(scenario.reviewer, scenario.in_review)

    card = _section(response, "model-card")
    model = scenario.in_review.version.registered_model
    for text in (
        "hf://example/base@1",
        "LoRA",
        "tickets",
        "CC-BY-4.0",
        "2026-01-01 to 2026-05-31",
        "support drafting",
        "medical advice",
        "human review",
        model.owner.get_username(),
        model.backup_owner.get_username(),
        "oncall@example.test",
    ):
        assert text in card, text
    # And it links to the printable card of the same version
    version_id = scenario.in_review.version_id
    assert f'href="/admin/model-card/{version_id}/"' in card


def test_the_runbook_is_a_checklist_with_owner_role_due_date_and_done_or_overdue(scenario):
    request = scenario.in_review
    steps = request.policy_snapshot["review_steps"]

    # When the page is read just after the first step's due date
    first_due = review_page(scenario.reviewer, request.pk).steps[0]["due_at"]
    page = review_page(scenario.reviewer, request.pk, now=first_due + timedelta(seconds=1))

    # Then every step is listed with its owner and due date; the first is overdue
    assert [step["title"] for step in page.steps] == [step["title"] for step in steps]
    assert page.steps[0]["owner_label"] == "Platform lead"
    assert (page.steps[0]["done"], page.steps[0]["overdue"]) == (False, True)
    assert not any(step["overdue"] for step in page.steps[1:])
    runbook = _section(page_of(scenario.reviewer, scenario.approved), "runbook")
    assert runbook.count("☑ done") == len(steps)  # approved: every step done


def test_changes_since_the_previous_approved_version_are_listed_side_by_side(scenario):
    page = review_page(scenario.reviewer, scenario.in_review.pk)

    assert page.changes.previous.version == "1.0.0"
    changed = {(row.aspect, row.item): (row.before, row.after) for row in page.changes.changes}
    assert changed[("metadata", "license")] == ("apache-2.0", "mit")
    assert {"eval_package", "dependency_scan"} <= {
        item for aspect, item in changed if aspect == "evidence"
    }
    assert [(row.item, row.before, row.after, row.changed) for row in page.changes.metrics] == [
        ("quality", "0.91", "0.78", True),
        ("quality[locale:de]", "0.86", "0.86", False),
        ("quality[locale:en]", "0.93", "0.93", False),
    ]
    # And the first approved version has nothing to compare with
    first = review_page(scenario.reviewer, scenario.approved.pk)
    assert first.changes.previous is None


def test_sign_offs_so_far_show_role_signer_meaning_and_time(scenario):
    response = page_of(scenario.reviewer, scenario.in_review)

    signoffs = _section(response, "signoffs")
    signoff = scenario.in_review.signoffs.get()
    assert "Platform approver" in signoffs
    assert "platform-approver" in signoffs
    assert "Approved for production promotion" in signoffs
    assert f"{signoff.signed_at:%Y-%m-%d %H:%M} UTC" in signoffs
    assert "✓ counts" in signoffs


def test_an_approved_request_summarises_its_verified_decision_record_without_inlining_it(
    scenario,
):
    # When a board member opens the approved request
    response = page_of(scenario.reviewer, scenario.approved)

    # Then the decision record is summarised: key id, development key flagged, verified
    record = DecisionRecord.objects.get(request=scenario.approved)
    decision = _section(response, "decision-record")
    assert record.keyid in decision
    assert "development key" in decision
    assert "✓ verified" in decision
    download = f"/admin/approvals/promotionrequest/{scenario.approved.pk}/decision-record.json"
    assert f'href="{download}"' in decision
    # And the envelope itself is nowhere on the page (its payload is one unbroken string)
    content = response.content.decode()
    assert record.envelope["payload"] not in content
    assert record.envelope["signatures"][0]["sig"] not in content
    assert "Waiting for:" not in content


def test_a_tampered_decision_record_is_shown_as_not_verifying(scenario):
    # Given the stored envelope's payload no longer matches its signature (read in memory:
    # the table is append-only)
    record = DecisionRecord.objects.get(request=scenario.approved)
    page = review_page(scenario.reviewer, scenario.approved.pk)
    assert page.decision.verified
    page.detail.decision.envelope = {**record.envelope, "payload": record.envelope["payload"][4:]}

    summary = decision_summary(page.detail)

    # Then the summary says it does not verify, and why
    assert summary.verified is False
    assert summary.problems


def test_the_envelope_downloads_as_a_json_attachment_equal_to_the_stored_envelope(scenario):
    response = page_of(scenario.reviewer, scenario.approved, "decision-record.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == (
        f'attachment; filename="decision-record-PR-{scenario.approved.pk}.json"'
    )
    stored = DecisionRecord.objects.get(request=scenario.approved).envelope
    assert json.loads(response.content) == stored


def test_a_request_without_a_decision_record_has_no_envelope_to_download(scenario):
    response = page_of(scenario.reviewer, scenario.in_review, "decision-record.json")

    assert response.status_code == 404
    page = page_of(scenario.reviewer, scenario.in_review)
    assert "envelope-download" not in page.content.decode()


def test_another_teams_board_member_finds_neither_the_page_nor_the_envelope(scenario):
    # Given a security approver of another team
    outsider = approver(TeamFactory(slug="payments"), "security", username="outsider")
    before = governance_row_counts()

    # When they open the page and the envelope of this team's request
    page = page_of(outsider, scenario.approved)
    envelope = page_of(outsider, scenario.approved, "decision-record.json")

    # Then the page is the admin's "does not exist" (as for a missing request: a redirect
    # to the index with a message) and the envelope a 404, showing nothing of either
    assert (page.status_code, page.url) == (302, "/admin/")
    assert envelope.status_code == 404
    assert "payload" not in envelope.content.decode()
    client = Client()
    client.force_login(outsider)
    followed = client.get(
        f"/admin/approvals/promotionrequest/{scenario.approved.pk}/change/", follow=True
    )
    assert "doesn\u2019t exist" in followed.content.decode()
    assert "support-drafter" not in followed.content.decode()
    # And a missing request looks exactly the same
    missing = page_of(outsider, PromotionRequest(pk=scenario.approved.pk + 1000))
    assert (missing.status_code, missing.url) == (302, "/admin/")
    assert governance_row_counts() == before


def test_someone_without_the_request_view_permission_is_refused(scenario):
    # Given a staff member of the team with no admin permission on requests
    from tests.registry.factories import UserFactory

    stranger = UserFactory(username="stranger")

    # When they open the page and the envelope
    page = page_of(stranger, scenario.approved)
    envelope = page_of(stranger, scenario.approved, "decision-record.json")

    # Then both are refused
    assert (page.status_code, envelope.status_code) == (403, 403)


def test_the_page_runs_the_same_number_of_queries_at_20_and_2000_requests(scenario):
    # Given 20 requests on the team (the scenario's two among them)
    model = scenario.in_review.version.registered_model
    _bulk_requests(model, 18, start=0)
    small = _queries(scenario.reviewer, scenario.in_review)

    # When there are 2,000
    _bulk_requests(model, 1980, start=18)
    assert PromotionRequest.objects.count() == 2000
    large = _queries(scenario.reviewer, scenario.in_review)

    # Then the page makes exactly the same number of queries, and few
    assert len(large) == len(small), _new_queries(small, large)
    assert len(small) <= 40


def _bulk_requests(model, count: int, *, start: int) -> None:
    """``count`` older, approved versions of the model, each with a decided request."""
    request = PromotionRequest.objects.filter(version__registered_model=model).first()
    versions = ModelVersion.objects.bulk_create(
        ModelVersion(
            registered_model=model,
            version=f"0.{index}.0",
            version_core=parse(f"0.{index}.0").core,
            semver_key=parse(f"0.{index}.0").sort_key(),
            checksum=f"{index:064x}",
            storage_uri=f"s3://models/bulk/{index}/",
            state="approved",
            approved_at=request.created_at,
            registered_by=model.owner,
        )
        for index in range(start, start + count)
    )
    PromotionRequest.objects.bulk_create(
        PromotionRequest(
            version=version,
            team_id=model.team_id,
            policy=request.policy,
            policy_snapshot=request.policy_snapshot,
            state="approved",
            requested_by=request.requested_by,
        )
        for version in versions
    )


def _queries(user, request) -> list[str]:
    client = Client()
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/admin/approvals/promotionrequest/{request.pk}/change/")
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def _new_queries(small: list[str], large: list[str]) -> list[str]:
    return [sql for sql in large if sql not in small] + [sql for sql in small if sql not in large]


def _section(response, element_id: str, tag: str = "section") -> str:
    """The HTML of the element with ``element_id`` (up to its closing tag)."""
    content = response.content.decode()
    start = content.index(f'id="{element_id}"')
    return content[start : content.index(f"</{tag}>", start)]
