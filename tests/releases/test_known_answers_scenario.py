"""Issue 13's scenario with known answers, end to end through the services, in one story:

1. a release of model + threshold policy + SDK (+ its dataset and eval report) is submitted
   and enters offline validation and internal under the routine policy (platform);
2. a second release changes only the threshold: it is detected as "threshold or policy
   update" and routed to the policy that requires product and security;
3. a ring skip is refused, with nothing written;
4. a monitoring report breaching p95 latency opens an incident and blocks promotion to
   general;
5. "which model and threshold served customer C at time T" returns the release and its
   threshold version, for each of the two windows the releases served.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from approvals import services
from approvals.choices import IncidentSource, IncidentState, RequestState
from approvals.models import Incident
from approvals.services.monitoring import monitoring_report_upload
from audit.models import AuditEvent
from audit.verbs import AuditVerb
from core.errors import IllegalTransition, InvalidInput
from registry.models import ModelVersion, Release, ReleaseComponent
from registry.release_manifest import release_integrity
from registry.services.deployments import deployment_end, deployment_record
from registry.services.releases import release_create
from tests.approvals.factories import ci_user
from tests.registry.factories import UserFactory, manager
from tests.releases.rings_helpers import board, request_ring, ring_row_counts, served, sign
from tests.releases.stack import build_stack, notes, version_of

pytestmark = pytest.mark.django_db


def latest_checks(request) -> dict[str, tuple[bool, bool]]:
    run = max(r.run for r in request.check_results.all())
    return {
        r.check_name: (r.passed, r.critical) for r in request.check_results.all() if r.run == run
    }


def enter(release, ring, people: dict[str, object], *, waive_days: object = None):
    """Ask for ``ring``, waive the days-in-ring criterion by a manager when given, and sign
    for every role the request's policy requires."""
    request = request_ring(release, ring)
    if waive_days is not None:
        services.check_override(
            actor=waive_days,
            request=request.pk,
            check_name="min_days_in_previous",
            justification="The scenario compresses the calendar; traffic was judged enough.",
            expires_at=timezone.now() + timedelta(days=3),
        )
    for role in request.policy_snapshot["required_roles"]:
        sign(request, people[role], role)
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED, (
        ring,
        request.reasons,
        request.policy.name,
        request.policy_snapshot["required_roles"],
        release.change_categories,
    )
    return request


def report(ci, release, ring: str, *, p95: float, window_end):
    """CI uploads one hour of monitoring for ``release`` in ``ring``."""
    return monitoring_report_upload(
        actor=ci,
        release=release,
        environment="prod",
        ring=ring,
        payload={
            "window_start": (window_end - timedelta(hours=1)).isoformat(),
            "window_end": window_end.isoformat(),
            "request_volume": 12000,
            "latency_p95_ms": p95,
            "retry_rate": 0.01,
            "segments": {},
            "drift_scores": {},
        },
        now=window_end + timedelta(minutes=1),
    )


def test_two_releases_rings_a_breach_and_who_served_customer_c_at_time_t():
    stack = build_stack()
    team = stack.team
    people = board(team, "platform", "product", "security", "ml_engineer", "data_governance")
    the_manager = manager(team)
    ci = ci_user(team)
    now = timezone.now()

    # 1. The first release pins model, threshold policy and SDK (with dataset and eval).
    first = release_create(
        stack.registrant,
        team=team,
        name="checkout-scoring",
        version="1.0.0",
        components=stack.components(),
        notes=notes(stack.owner),
        now=now - timedelta(days=30),
    )
    kinds = {entry["kind"] for entry in first.manifest}
    assert {"model", "config", "sdk", "dataset", "evaluation_report"} <= kinds
    # Nothing came before it: every component is new, so every category is touched and
    # the ring requests need the union of the release policies' roles.
    assert {c["category"] for c in first.change_categories} >= {"base_model", "threshold"}
    offline = enter(first, "offline_validation", people)
    assert set(offline.policy_snapshot["required_roles"]) == set(people)
    enter(first, "internal", people)

    # 2. The second changes only the threshold: "threshold", routed to product + security.
    raised = version_of(
        stack.config, "1.1.0", parameters={"decline_above": 0.85, "review_above": 0.6}
    )
    second = release_create(
        stack.registrant,
        team=team,
        name="checkout-scoring",
        version="1.1.0",
        components=stack.components(config=raised),
        notes=notes(stack.owner, what_changed="Raised the decline threshold to 0.85."),
        now=now - timedelta(days=20),
    )
    assert second.previous_release_id == first.pk
    assert [c["category"] for c in second.change_categories] == ["threshold"]
    assert "decline_above 0.82 → 0.85" in second.change_categories[0]["why"]
    request = request_ring(second, "offline_validation")
    assert request.policy.name == "release-threshold-and-policy"
    assert request.policy_snapshot["required_roles"] == {"product": 1, "security": 1}
    signoffs = request.signoffs.count()
    with pytest.raises(InvalidInput, match="does not require a platform sign-off"):
        sign(request, people["platform"], "platform")
    assert request.signoffs.count() == signoffs
    for role in ("product", "security"):
        sign(request, people[role], role)
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED

    # 3. A ring skip (offline validation straight to guarded) is refused, nothing written.
    before = ring_row_counts()
    with pytest.raises(IllegalTransition, match="must enter Internal"):
        request_ring(second, "guarded")
    assert ring_row_counts() == before

    enter(second, "internal", people)
    enter(second, "guarded", people, waive_days=the_manager)
    clean = report(ci, second, "guarded", p95=140.0, window_end=now - timedelta(minutes=30))
    assert clean.report.breaches == [] and clean.incident is None
    enter(second, "segment_monitoring", people, waive_days=the_manager)

    # 4. A report breaching p95 latency opens an incident and blocks promotion to general.
    upload = report(ci, second, "segment_monitoring", p95=410.0, window_end=now)
    assert [b["metric"] for b in upload.report.breaches] == ["latency_p95_ms"]
    incident = Incident.objects.get(release=second)
    assert incident.source == IncidentSource.BREACH
    assert incident.state == IncidentState.OPEN
    assert incident.blocks_promotion is True
    assert incident.monitoring_report_id == upload.report.pk
    general = request_ring(second, "general")
    checks = latest_checks(general)
    assert checks["monitoring_within_thresholds"][0] is False
    assert checks["no_open_incident"] == (False, True)
    assert general.state == RequestState.CHANGES_REQUESTED
    assert not second.ring_entries.filter(ring="general").exists()

    # 5. Which model and threshold served customer C at time T.
    t_first = now - timedelta(days=10)
    t_second = now - timedelta(days=2)
    first_deployment = deployment_record(
        actor=ci,
        version=stack.scorer,
        release=first,
        environment="prod",
        ring="internal",
        customer_scope="customer-c",
        started_at=now - timedelta(days=15),
    )
    deployment_end(actor=ci, deployment=first_deployment, ended_at=now - timedelta(days=5))
    deployment_record(
        actor=ci,
        version=stack.scorer,
        release=second,
        environment="prod",
        ring="segment_monitoring",
        customer_scope="customer-c",
        started_at=now - timedelta(days=5),
    )
    auditor = UserFactory(is_superuser=True)

    def served_by(at):
        (row,) = served(auditor, customer="customer-c", at=at)
        config = next(c for c in row["release"]["components"] if c["kind"] == "config")
        return row["release"]["id"], row["version"]["id"], config["version_id"]

    assert served_by(t_first) == (first.pk, stack.scorer.pk, stack.threshold.pk)
    assert served_by(t_second) == (second.pk, stack.scorer.pk, raised.pk)
    assert served(auditor, customer="customer-c", at=now - timedelta(days=20)) == []

    # The trail names every step: two submissions, the rings entered, the breach.
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {
        AuditVerb.RELEASE_SUBMITTED,
        AuditVerb.RELEASE_RING_ENTERED,
        AuditVerb.MONITORING_REPORT_UPLOADED,
        AuditVerb.INCIDENT_OPENED,
    } <= verbs
    assert Release.objects.filter(team=team).count() == 2


def test_after_submission_a_release_cannot_be_changed_unnoticed():
    stack = build_stack()
    release = release_create(
        stack.registrant,
        team=stack.team,
        name="checkout-scoring",
        version="1.0.0",
        components=stack.components(),
        notes=notes(stack.owner),
    )
    component = release.components.get(kind="config")
    other = version_of(stack.config, "1.1.0")
    table = ReleaseComponent._meta.db_table

    # Its components are append-only: raw SQL and the ORM's save() are both refused.
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET model_version_id = %s WHERE id = %s", [other.pk, component.pk]
        )
    component.model_version = other
    with pytest.raises(DatabaseError), transaction.atomic():
        component.save()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [component.pk])
    assert release.components.get(kind="config").model_version_id == stack.threshold.pk
    assert release_integrity(release) == []

    # A pinned artifact changed in place, or the stored manifest rewritten, is named by the
    # integrity check, and the critical manifest check refuses the next ring.
    ModelVersion.objects.filter(pk=stack.threshold.pk).update(checksum="f" * 64)
    Release.objects.filter(pk=release.pk).update(manifest=release.manifest[:-1])
    release.refresh_from_db()
    problems = release_integrity(release)
    assert "The release's stored manifest does not match its digest." in problems
    assert any("decline-threshold 1.0.0's checksum changed since submission" in p for p in problems)
    request = request_ring(release, "offline_validation")
    assert latest_checks(request)["manifest_intact"] == (False, True)
    assert request.state == RequestState.CHANGES_REQUESTED
    assert not release.ring_entries.exists()
