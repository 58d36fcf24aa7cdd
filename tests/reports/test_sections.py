"""Each report section against the scenario's known answers (tests/reports/scenario.py)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from approvals.models import PromotionRequest
from core.errors import InvalidInput
from registry.services import evidence_attach
from reports.scope import report_scope
from reports.sections import CITED, report_sections
from tests.approvals.factories import SAMPLES, PromotionRequestFactory, ci_user
from tests.registry.factories import UserFactory
from tests.reports.scenario import LAUNCH, MONITORED_AFTER, SWITCH

pytestmark = pytest.mark.django_db


def section(scope, key):
    rows = next(s for s in report_sections(scope) if s.key == key).rows()
    return [{k: v for k, v in row.items() if k != CITED} for row in rows]


@pytest.mark.parametrize(
    ("reader", "team", "expected"),
    [
        ("auditor", "", ["alpha", "alpha", "beta"]),
        ("auditor", "alpha", ["alpha", "alpha"]),
        ("auditor", "beta", ["beta"]),
        ("alpha_auditor", "", ["alpha", "alpha"]),
    ],
)
def test_a_team_s_or_an_unscoped_report_reads_requests_by_their_own_team(
    scenario, reader, team, expected
):
    PromotionRequestFactory(version=scenario.other_team_version)
    scope = report_scope(actor=getattr(scenario, reader), team=team)

    requests = scope.requests()

    # The same requests as through the scope's versions, without reading a version.
    assert "registry_modelversion" not in str(requests.query)
    through_versions = PromotionRequest.objects.filter(version__in=scope.versions().values("pk"))
    assert sorted(requests.values_list("pk", flat=True)) == sorted(
        through_versions.values_list("pk", flat=True)
    )
    assert sorted(requests.values_list("team__slug", flat=True)) == expected


def test_serving_names_each_version_and_the_config_beside_it_per_window(scenario):
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")

    rows = section(scope, "serving")

    assert [
        (r["model"], r["kind"], r["version"], r["started_at"], r["ended_at"]) for r in rows
    ] == [
        ("support-bot", "model", "1.0.0", LAUNCH, SWITCH),
        ("thresholds", "config", "2.0.0", LAUNCH, None),
        ("support-bot", "model", "1.1.0", SWITCH, None),
    ]
    assert {r["customer"] for r in rows} == {"acme"}


def test_serving_for_a_customer_in_a_window_keeps_only_what_served_then(scenario):
    scope = report_scope(
        actor=scenario.auditor,
        customer="acme",
        start=SWITCH + timedelta(days=1),
        until=SWITCH + timedelta(days=2),
    )

    rows = section(scope, "serving")

    # Every team's acme deployment still running then (beta's too: a global auditor).
    assert sorted((r["team"], r["model"], r["version"]) for r in rows) == [
        ("alpha", "support-bot", "1.1.0"),
        ("alpha", "thresholds", "2.0.0"),
        ("beta", "beta-bot", "9.0.0"),
    ]


def test_evaluations_show_each_metric_against_the_policy_threshold_at_approval(scenario):
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")

    rows = section(scope, "evaluations")

    overall = {
        (r["version"], r["metric"]): (r["observed"], r["comparison"], r["limit"], r["passed"])
        for r in rows
        if r["segment"] == ""
    }
    assert overall == {
        ("1.0.0", "quality"): (0.91, ">=", 0.85, True),
        ("1.0.0", "toxicity"): (0.004, "<=", 0.01, True),
        ("1.1.0", "quality"): (0.80, ">=", 0.85, False),
        ("1.1.0", "toxicity"): (0.004, "<=", 0.01, True),
    }
    assert {(r["policy"], r["policy_version"]) for r in rows} == {("board-alpha", 1)}
    assert {r["request"] for r in rows} == {scenario.first_request.pk, scenario.second_request.pk}


def test_changes_since_the_previous_version_name_metadata_evidence_and_metrics(scenario):
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")

    rows = section(scope, "changes")

    assert rows[0]["version"] == "1.0.0" and rows[0]["aspect"] == "first version"
    changed = {(r["aspect"], r["item"]): (r["before"], r["after"]) for r in rows[1:]}
    assert changed[("metadata", "license")] == ("apache-2.0", "mit")
    assert changed[("eval metrics", "quality")] == (0.91, 0.80)
    assert ("evidence", "eval_package") in changed
    assert ("evidence", "sbom") not in changed  # the same SBOM file for both
    assert ("eval metrics", "toxicity") not in changed
    assert not any(aspect == "policy" for aspect, _ in changed)  # same policy version
    assert {r["previous"] for r in rows[1:]} == {"1.0.0"}


def test_signoffs_say_who_approved_when_in_which_role_and_what_it_meant(scenario):
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")

    rows = section(scope, "signoffs")

    assert [(r["version"], r["role"], r["signer"], r["meaning"]) for r in rows] == [
        (version, role, f"{role}-signer", f"Approved as {role} for production")
        for version in ("1.0.0", "1.1.0")
        for role in ("platform", "product", "security")
    ]
    assert rows[2]["role_label"] == "Security approver"
    assert {r["reauth"] for r in rows} == {"password"}


def test_checks_list_every_check_that_ran_with_its_result(scenario):
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")

    rows = section(scope, "checks")

    failed = [(r["version"], r["check"], r["critical"]) for r in rows if not r["passed"]]
    assert failed == [("1.1.0", "eval_thresholds", False)]
    assert len({r["check"] for r in rows}) == len(rows) // 2  # one run per request


def test_exceptions_say_who_granted_which_why_and_until_when(scenario):
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")

    rows = section(scope, "exceptions")

    assert [(r["version"], r["check"], r["granted_by"], r["justification"]) for r in rows] == [
        ("1.1.0", "eval_thresholds", "boss", "Accepted for the pilot; retrain scheduled.")
    ]
    assert rows[0]["expires_at"] == scenario.exception_expires_at


def test_transitions_list_the_lifecycle_events_with_actors_and_reasons(scenario):
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")

    rows = section(scope, "transitions")

    first_version = f"registry.modelversion:{scenario.first.pk}"
    assert [(r["verb"], r["reason"]) for r in rows if r["object"] == first_version] == [
        ("version.marked_candidate", "baseline checks passed"),
        ("version.approved", "quorum of sign-offs reached"),
    ]
    granted = [r for r in rows if r["verb"] == "promotion.exception_granted"]
    assert [(r["actor"], r["reason"]) for r in granted] == [
        ("user:boss", "Accepted for the pilot; retrain scheduled.")
    ]


def test_transitions_read_old_spellings_as_todays_verbs(scenario):
    from audit.models import AuditEvent

    AuditEvent.objects.create(
        actor_label="user:old",
        verb="version.deprecate",
        object_type="registry.modelversion",
        object_id=str(scenario.first.pk),
        team_id=scenario.alpha.pk,
        data={"reason": "written before the verbs were typed"},
    )
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")

    rows = section(scope, "transitions")

    assert rows[-1]["verb"] == "version.deprecated"


def test_monitoring_lists_evidence_after_approval_and_says_none_when_there_is_none(scenario):
    with_evidence = report_scope(actor=scenario.auditor, model="alpha/support-bot")
    without = report_scope(actor=scenario.auditor, model="alpha/thresholds")

    rows = section(with_evidence, "monitoring")

    assert [(r["version"], r["kind"], r["uploaded_by"]) for r in rows] == [
        ("1.0.0", "eval_package", "boss")
    ]
    assert rows[0]["uploaded_at"] - rows[0]["approved_at"] == MONITORED_AFTER
    assert section(without, "monitoring") == []


def test_history_cites_each_row_it_lists(scenario):
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")

    rows = list(next(s for s in report_sections(scope) if s.key == "history").rows())

    assert rows and all(row[CITED] == (row["table"], str(row["history_id"])) for row in rows)
    states = [r["state"] for r in rows if r["table"] == "registry_historicalmodelversion"]
    assert states == ["draft", "candidate", "approved"] * 2


def test_a_team_auditor_sees_only_their_teams_rows(scenario):
    everyone = report_scope(actor=scenario.auditor, customer="acme")
    alpha_only = report_scope(actor=scenario.alpha_auditor, customer="acme")

    assert {r["team"] for r in section(everyone, "serving")} == {"alpha", "beta"}
    assert {r["team"] for r in section(alpha_only, "serving")} == {"alpha"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"model": "beta/beta-bot"}, "No model 'beta/beta-bot' that you may export"),
        ({"team": "beta"}, "No team 'beta'"),
        ({"model": "alpha/nothing"}, "No model"),
        ({"start": "2026-01-01"}, "time zone"),
        ({"start": "2026-02-30T00:00Z"}, "from must be an ISO 8601 datetime"),
        ({"until": "9999-12-31T23:59:59.999999-01:00"}, "until must be an ISO 8601 datetime"),
        ({"start": "2026-02-01T00:00Z", "until": "2026-01-01T00:00Z"}, "before its end"),
    ],
)
def test_a_scope_outside_the_auditors_teams_or_malformed_is_refused(scenario, arguments, message):
    with pytest.raises(InvalidInput, match=message):
        report_scope(actor=scenario.alpha_auditor, **arguments)


def test_a_person_without_any_team_role_gets_an_empty_report(scenario):
    stranger = UserFactory()

    scope = report_scope(actor=stranger, customer="acme")

    assert all(list(s.rows()) == [] for s in report_sections(scope))


def test_a_nightly_scan_ci_uploads_for_an_approved_version_is_monitoring_evidence(scenario):
    # Given the approved support-bot 1.0.0 and the team's CI (issue 12: an approved version
    # takes scan reports through the evidence service, reopening nothing)
    ci = ci_user(scenario.alpha)

    # When CI uploads its nightly dependency scan
    evidence_attach(
        actor=ci,
        version=scenario.first.pk,
        kind="dependency_scan",
        content=io.BytesIO((SAMPLES / "trivy-clean.json").read_bytes()),
        media_type="application/json",
    )

    # Then the report's monitoring section lists it beside the earlier evidence, by CI
    scope = report_scope(actor=scenario.auditor, model="alpha/support-bot")
    rows = section(scope, "monitoring")
    assert ("1.0.0", "dependency_scan", ci.username) in [
        (r["version"], r["kind"], r["uploaded_by"]) for r in rows
    ]
    scenario.first.refresh_from_db()
    assert scenario.first.state == "approved"
