"""Rings as governed states of a release (issue 13): ring requests, their policy, checks,
sign-offs and the ring entry their approval writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals import services
from approvals.checks.release import release_facts
from approvals.choices import IncidentSource, RequestState
from approvals.models import DecisionRecord, Incident, PromotionRequest, RingEntry
from approvals.release_policy import policy_for_release
from approvals.services.rings import release_anchor, ring_entry_request
from audit.models import AuditEvent
from audit.verbs import AuditVerb
from core.errors import Conflict, IllegalTransition, InvalidInput, NotPermitted
from registry.choices import ReleaseState, VersionState
from tests.approvals.factories import ci_user
from tests.registry.factories import UserFactory, manager, team_member
from tests.releases.rings_helpers import (
    board,
    config_component,
    enter_directly,
    model_component,
    monitoring_report,
    request_ring,
    ring_row_counts,
    sign,
    stack_release,
)

pytestmark = pytest.mark.django_db


def latest_checks(request: PromotionRequest) -> dict[str, tuple[bool, bool]]:
    run = max(r.run for r in request.check_results.all())
    return {
        r.check_name: (r.passed, r.critical) for r in request.check_results.all() if r.run == run
    }


def test_a_routine_release_enters_offline_validation_internal_and_guarded_with_sign_offs():
    release = stack_release()
    people = board(release.team, "platform")
    the_manager = manager(release.team)

    offline = request_ring(release, "offline_validation")
    assert offline.state == RequestState.IN_REVIEW, offline.reasons
    assert offline.version_id == model_component(release).pk  # the anchor: the model
    assert offline.policy.name == "release-routine"
    assert offline.policy_snapshot["required_roles"] == {"platform": 1}
    assert set(latest_checks(offline)) == {
        "components_approved",
        "manifest_intact",
        "previous_ring_entered",
    }
    sign(offline, people["platform"], "platform")
    offline.refresh_from_db()
    assert offline.state == RequestState.APPROVED

    internal = request_ring(release, "internal")
    assert internal.state == RequestState.IN_REVIEW, internal.reasons
    sign(internal, people["platform"], "platform")

    # Guarded asks for a day in internal: not met, so a manager's exception is needed.
    guarded = request_ring(release, "guarded")
    checks = latest_checks(guarded)
    assert checks["min_days_in_previous"] == (False, False)
    assert checks["no_open_incident"] == (True, True)
    services.check_override(
        actor=the_manager,
        request=guarded.pk,
        check_name="min_days_in_previous",
        justification="Internal traffic was heavy enough in one morning to judge it.",
        expires_at=timezone.now() + timedelta(days=3),
    )
    sign(guarded, people["platform"], "platform")
    guarded.refresh_from_db()
    assert guarded.state == RequestState.APPROVED

    entries = list(RingEntry.objects.filter(release=release).order_by("entered_at", "id"))
    assert [(e.environment, e.ring) for e in entries] == [
        ("prod", "offline_validation"),
        ("prod", "internal"),
        ("prod", "guarded"),
    ]
    assert [e.request_id for e in entries] == [offline.pk, internal.pk, guarded.pk]
    assert all(e.entered_by_id == people["platform"].pk for e in entries)
    assert AuditEvent.objects.filter(verb=AuditVerb.RELEASE_RING_ENTERED).count() == 3
    # The components keep their own approvals; the anchor was not re-approved.
    assert model_component(release).state == VersionState.APPROVED


def test_the_decision_and_every_sign_off_name_the_release_and_its_manifest():
    release = stack_release()
    people = board(release.team, "platform")
    request = request_ring(release, "offline_validation")
    sign(request, people["platform"], "platform")
    signoff = request.signoffs.get()
    assert signoff.binding["release"] == {
        "id": release.pk,
        "name": f"{release.team.slug}/{release.name}@{release.version}",
        "manifest_sha256": release.manifest_sha256,
        "environment": "prod",
        "ring": "offline_validation",
    }
    statement = DecisionRecord.objects.get(request=request).envelope
    import base64
    import json

    payload = json.loads(base64.b64decode(statement["payload"]))
    subjects = {s["name"]: s["digest"]["sha256"] for s in payload["subject"]}
    assert subjects[signoff.binding["release"]["name"]] == release.manifest_sha256
    assert payload["predicate"]["release"]["ring"] == "offline_validation"


def test_a_threshold_only_release_is_routed_to_the_policy_requiring_product_and_security():
    release = stack_release(categories=["threshold"])
    request = request_ring(release, "offline_validation")
    assert request.policy.name == "release-threshold-and-policy"
    assert request.policy_snapshot["required_roles"] == {"product": 1, "security": 1}
    review = request.policy_snapshot["release_review"]
    assert review["categories"] == ["threshold"]
    assert [p["name"] for p in review["policies"]] == ["release-threshold-and-policy"]
    # The platform approver of the routine policy cannot decide it.
    people = board(release.team, "platform", "product", "security")
    with pytest.raises(Exception, match="does not require a platform"):
        sign(request, people["platform"], "platform")
    sign(request, people["product"], "product")
    request.refresh_from_db()
    assert request.state == RequestState.IN_REVIEW
    sign(request, people["security"], "security")
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED


def test_categories_spread_over_policies_need_the_union_of_their_roles_under_the_strictest():
    release = stack_release(categories=["threshold", "dataset_refresh"])
    policy, snapshot = policy_for_release(release)
    assert snapshot["required_roles"] == {
        "data_governance": 1,
        "ml_engineer": 1,
        "product": 1,
        "security": 1,
    }
    assert sorted(p["name"] for p in snapshot["release_review"]["policies"]) == [
        "release-dataset-refresh",
        "release-threshold-and-policy",
    ]
    assert snapshot["release_review"]["judged_under"]["name"] == policy.name


def test_a_release_no_policy_reviews_falls_back_to_the_default_policy(default_policy):
    release = stack_release()
    from approvals.models import GovernancePolicy

    # JSON containment is PostgreSQL's; the embedded SQLite default runs this too.
    routine = [p.pk for p in GovernancePolicy.objects.all() if "routine" in p.release_categories]
    GovernancePolicy.objects.filter(pk__in=routine).delete()
    policy, snapshot = policy_for_release(release)
    assert policy == default_policy
    assert snapshot["release_review"] == {"categories": ["routine"], "policies": []}


def test_a_ring_skip_is_refused_with_nothing_written():
    release = stack_release()
    enter_directly(release, "offline_validation", days_ago=30)
    enter_directly(release, "internal", days_ago=20)
    before = ring_row_counts()
    with pytest.raises(IllegalTransition, match="must enter Shadow or guarded rollout"):
        request_ring(release, "segment_monitoring")
    assert ring_row_counts() == before


@pytest.mark.parametrize(
    ("ring", "environment", "error", "match"),
    [
        ("beta", "prod", InvalidInput, "Unknown ring"),
        ("internal", "prod env", InvalidInput, "environment must be a slug"),
        ("offline_validation", "prod", Conflict, "already entered"),
    ],
)
def test_bad_ring_requests_are_refused_with_nothing_written(ring, environment, error, match):
    release = stack_release()
    enter_directly(release, "offline_validation", days_ago=1)
    before = ring_row_counts()
    with pytest.raises(error, match=match):
        request_ring(release, ring, environment)
    assert ring_row_counts() == before


def test_a_second_request_for_an_open_ring_is_refused_with_nothing_written():
    release = stack_release()
    request_ring(release, "offline_validation")
    before = ring_row_counts()
    with pytest.raises(Conflict, match="already has an open request"):
        request_ring(release, "offline_validation")
    assert ring_row_counts() == before


def test_a_withdrawn_release_enters_no_ring():
    release = stack_release(state=ReleaseState.WITHDRAWN)
    before = ring_row_counts()
    with pytest.raises(IllegalTransition, match="withdrawn"):
        request_ring(release, "offline_validation")
    assert ring_row_counts() == before


def test_someone_without_the_register_permission_cannot_request_a_ring():
    release = stack_release()
    outsider = team_member(release.team, "view_team_registry")
    before = ring_row_counts()
    with pytest.raises(NotPermitted, match="ring entry"):
        ring_entry_request(actor=outsider, release=release, environment="prod", ring="internal")
    assert ring_row_counts() == before


def test_min_days_in_guarded_not_met_blocks_segment_monitoring():
    release = stack_release()
    enter_directly(release, "offline_validation", days_ago=30)
    enter_directly(release, "internal", days_ago=20)
    enter_directly(release, "guarded", days_ago=1)  # segment monitoring asks for 3
    monitoring_report(release, "guarded")
    request = request_ring(release, "segment_monitoring")
    assert latest_checks(request)["min_days_in_previous"] == (False, False)
    assert request.state == RequestState.IN_REVIEW
    assert any("min_days_in_previous" in reason for reason in request.reasons)


def test_a_breaching_monitoring_report_and_an_open_incident_block_promotion_to_general():
    release = stack_release()
    for ring, days in [("offline_validation", 40), ("internal", 30), ("guarded", 20)]:
        enter_directly(release, ring, days_ago=days)
    enter_directly(release, "segment_monitoring", days_ago=10)
    monitoring_report(release, "segment_monitoring", hours_ago=30)
    breach = {"name": "p95 latency over 250 ms", "metric": "latency_p95_ms", "observed": 300}
    report = monitoring_report(release, "segment_monitoring", breaches=[breach])
    Incident.objects.create(
        team=release.team,
        release=release,
        title="p95 latency breach",
        severity="sev2",
        source=IncidentSource.BREACH,
        monitoring_report=report,
        opened_by=UserFactory(),
        opened_at=timezone.now(),
    )
    request = request_ring(release, "general")
    checks = latest_checks(request)
    assert checks["monitoring_within_thresholds"] == (False, False)
    assert checks["no_open_incident"] == (False, True)
    assert checks["min_days_in_previous"] == (True, False)
    # A critical failure sends the request back; the anchor stays approved.
    assert request.state == RequestState.CHANGES_REQUESTED
    assert model_component(release).state == VersionState.APPROVED


def test_a_resolved_incident_and_a_clean_report_let_general_pass_its_checks():
    release = stack_release()
    for ring, days in [("offline_validation", 40), ("internal", 30), ("guarded", 20)]:
        enter_directly(release, ring, days_ago=days)
    enter_directly(release, "segment_monitoring", days_ago=10)
    monitoring_report(release, "segment_monitoring", breaches=[{"name": "old"}], hours_ago=30)
    monitoring_report(release, "segment_monitoring")
    Incident.objects.create(
        team=release.team,
        release=release,
        title="resolved",
        severity="sev3",
        state="resolved",
        source=IncidentSource.PERSON,
        opened_by=UserFactory(),
        opened_at=timezone.now(),
    )
    request = request_ring(release, "general")
    assert all(passed for passed, _ in latest_checks(request).values()), request.reasons
    assert request.state == RequestState.IN_REVIEW


def test_a_candidate_component_is_approved_by_the_ring_request_and_stays_candidate_on_reject():
    release = stack_release(threshold_state=VersionState.CANDIDATE)
    threshold = config_component(release)
    people = board(release.team, "platform")
    request = request_ring(release, "offline_validation")
    assert latest_checks(request)["manifest_intact"][0] is True
    services.promotion_request_reject(
        actor=people["platform"], request=request.pk, reason="not this week"
    )
    threshold.refresh_from_db()
    assert threshold.state == VersionState.CANDIDATE  # a ring request returns nothing to draft

    again = request_ring(release, "offline_validation")
    sign(again, people["platform"], "platform")
    threshold.refresh_from_db()
    assert threshold.state == VersionState.APPROVED
    event = AuditEvent.objects.filter(verb=AuditVerb.VERSION_APPROVED).latest("id")
    assert event.data["promotion_request"] == again.pk


def test_a_component_changed_after_submission_fails_the_critical_manifest_check():
    release = stack_release()
    threshold = config_component(release)
    threshold.parameters = {"decline_above": 0.5}
    threshold.save()
    request = request_ring(release, "offline_validation")
    assert latest_checks(request)["manifest_intact"] == (False, True)
    assert request.state == RequestState.CHANGES_REQUESTED


def test_a_deprecated_component_fails_components_approved():
    release = stack_release(threshold_state=VersionState.DEPRECATED)
    request = request_ring(release, "offline_validation")
    assert latest_checks(request)["components_approved"] == (False, True)


def test_the_anchor_is_the_model_not_the_config_and_ring_facts_take_fixed_queries(
    django_assert_num_queries,
):
    release = stack_release()
    assert release_anchor(release) == model_component(release)
    for ring, days in [("offline_validation", 4), ("internal", 3)]:
        enter_directly(release, ring, days_ago=days)
    monitoring_report(release, "internal")
    with django_assert_num_queries(5):
        facts = release_facts(release)
    assert set(facts.entries) == {("prod", "offline_validation"), ("prod", "internal")}
    for _ in range(5):
        monitoring_report(release, "internal", hours_ago=10 + _)
    with django_assert_num_queries(5):
        release_facts(release)


def test_ci_of_another_team_may_not_request_a_ring():
    release = stack_release()
    other = stack_release()
    before = ring_row_counts()
    with pytest.raises(NotPermitted):
        ring_entry_request(
            actor=ci_user(other.team), release=release, environment="prod", ring="internal"
        )
    assert ring_row_counts() == before
