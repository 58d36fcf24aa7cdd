"""Automated checks (pass and fail each), exceptions for non-critical checks only, and
AZ-4: no combination of failing critical checks is ever promoted, whoever overrides."""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from approvals import services
from approvals.choices import ALWAYS_CRITICAL_CHECKS
from approvals.models import CheckException, CheckResult
from core.errors import DomainError, InvalidInput, NotPermitted
from registry.models import ModelVersion, VulnerabilityFinding
from tests.approvals.factories import (
    SAMPLES,
    attach,
    attach_passing_evidence,
    board_policy,
    ci_user,
    eval_package,
    governance_row_counts,
    provenance_statement,
    run_checks,
)
from tests.registry.factories import (
    PASSWORD,
    TeamFactory,
    UserFactory,
    approver,
    manager,
    ready_version,
)

pytestmark = pytest.mark.django_db
BOARD = ("platform", "product", "security")


@pytest.fixture
def team():
    team = TeamFactory(slug="assistants")
    policy = board_policy(team)
    policy.metric_thresholds = {"quality": {"min": 0.85}}
    policy.save()
    return team


def submit(version):
    request = services.promotion_request_submit(
        actor=ci_user(version.registered_model.team), version=version
    )
    return run_checks(request) if request.state == "submitted" else request


def latest(request) -> dict[str, CheckResult]:
    results = CheckResult.objects.filter(request=request).order_by("id")
    return {r.check_name: r for r in results}


# Each critical check: the bad evidence that makes it fail.
def _no(kind):
    return {"skip": (kind,)}


CRITICAL_FAILURES = {
    "sbom_missing": ("sbom", _no("sbom")),
    "sbom_invalid": ("sbom", {"extra": {"sbom": (SAMPLES / "sbom-broken-schema.json")}}),
    "provenance_missing": ("provenance", _no("provenance")),
    "provenance_wrong_digest": ("provenance", {"provenance_digest": "b" * 64}),
    "critical_cve": (
        "dependency_scan",
        {"extra": {"dependency_scan": (SAMPLES / "trivy-vulnerable.json")}},
    ),
    "scan_missing": ("dependency_scan", _no("dependency_scan")),
    "stale_evals": ("evals_fresh", {"checkpoint": "another-checkpoint"}),
}


def version_with(team, *, skip=(), extra=None, provenance_digest=None, checkpoint=None):
    version = ready_version(registered_model__team=team)
    skip = set(skip) | set(extra or {})
    if provenance_digest:
        skip.add("provenance")
    if checkpoint:
        skip.add("eval_package")
    attach_passing_evidence(version, skip=tuple(skip))
    for kind, path in (extra or {}).items():
        attach(version, kind, path.read_bytes())
    if provenance_digest:
        attach(version, "provenance", provenance_statement(provenance_digest))
    if checkpoint:
        attach(version, "eval_package", eval_package(version, checkpoint_id=checkpoint))
    return version


def test_with_passing_evidence_every_check_passes_and_reads_what_it_saw(team):
    request = submit(version_with(team))
    results = latest(request)
    assert request.state == "in_review"
    assert {name: r.passed for name, r in results.items()} == dict.fromkeys(results, True)
    assert results["sbom"].observed["spec_version"] == "1.6"
    assert results["provenance"].observed["subject_matches"] is True
    assert results["eval_thresholds"].observed["results"][0]["observed"] == 0.91
    assert results["sbom"].evidence_sha256 == request.checked_evidence["evidence:sbom"]


@pytest.mark.parametrize("case", sorted(CRITICAL_FAILURES))
def test_each_critical_check_fails_on_bad_evidence_and_sends_the_request_back(team, case):
    check, how = CRITICAL_FAILURES[case]
    request = submit(version_with(team, **how))
    result = latest(request)[check]
    assert (result.passed, result.critical) == (False, True)
    assert request.state == "changes_requested"
    assert any(reason.startswith(check) for reason in request.reasons)
    assert ModelVersion.objects.get(pk=request.version_id).state == "draft"


def test_open_critical_findings_are_ingested_as_vulnerability_findings(team):
    request = submit(
        version_with(team, extra={"dependency_scan": SAMPLES / "trivy-vulnerable.json"})
    )
    assert (
        VulnerabilityFinding.objects.filter(
            evidence__version=request.version, severity="critical", status="open"
        ).count()
        == 2
    )


def test_a_threshold_miss_is_non_critical_shows_the_numbers_and_blocks_approval(team):
    version = version_with(team, skip=("eval_package",))
    attach(version, "eval_package", eval_package(version, metrics={"quality": 0.80}))
    request = submit(version)
    result = latest(request)["eval_thresholds"]
    assert (result.passed, result.critical, request.state) == (False, False, "in_review")
    assert "quality = 0.8 (needs >= 0.85)" in result.detail
    for role in BOARD:
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )
    request.refresh_from_db()
    assert request.state == "in_review"  # quorum met, but the failed check blocks


def test_a_manager_exception_for_a_non_critical_check_lets_the_quorum_approve(team):
    version = version_with(team, skip=("eval_package",))
    attach(version, "eval_package", eval_package(version, metrics={"quality": 0.80}))
    request = submit(version)
    for role in BOARD:
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )
    exception = services.check_override(
        actor=manager(team),
        request=request,
        check_name="eval_thresholds",
        justification="Accepted for the pilot; retrain scheduled for next sprint.",
        expires_at=timezone.now() + timedelta(days=14),
    )
    request.refresh_from_db()
    assert request.state == "approved"
    assert exception.check_was_critical is False
    statement = services.verify_decision_envelope(services.decision_record_for(request))[2]
    assert statement["predicate"]["exceptions"][0]["check"] == "eval_thresholds"


def test_only_a_team_manager_may_grant_an_exception_and_a_justification_is_required(team):
    version = version_with(team, skip=("eval_package",))
    attach(version, "eval_package", eval_package(version, metrics={"quality": 0.80}))
    request = submit(version)
    before = governance_row_counts()
    with pytest.raises(NotPermitted, match="governance managers"):
        services.check_override(
            actor=UserFactory(is_superuser=True),
            request=request,
            check_name="eval_thresholds",
            justification="A superuser is not a governance manager of the team.",
            expires_at=timezone.now() + timedelta(days=1),
        )
    assert governance_row_counts() == before
    assert CheckException.objects.count() == 0


def _superuser_manager(team):
    return manager(team, is_superuser=True)


OVERRIDERS = {
    "manager": manager,
    "superuser": lambda team: UserFactory(is_superuser=True),
    "superuser_manager": _superuser_manager,
}


FAILING_CASE_FOR = {
    "sbom": "sbom_missing",
    "provenance": "provenance_wrong_digest",
    "dependency_scan": "critical_cve",
    "evals_fresh": "stale_evals",
}


@pytest.mark.parametrize("who", sorted(OVERRIDERS))
@pytest.mark.parametrize("check", sorted(FAILING_CASE_FOR))
def test_no_one_can_override_a_failed_critical_check(team, who, check):
    request = submit(version_with(team, **CRITICAL_FAILURES[FAILING_CASE_FOR[check]][1]))
    assert latest(request)[check].passed is False
    before = governance_row_counts()
    with pytest.raises(NotPermitted, match="critical check: it cannot be overridden by anyone"):
        services.check_override(
            actor=OVERRIDERS[who](team),
            request=request,
            check_name=check,
            justification="Trying to wave a critical check through for the release.",
            expires_at=timezone.now() + timedelta(days=1),
        )
    assert CheckException.objects.count() == 0
    assert governance_row_counts()["audit_events"] == before["audit_events"]


@pytest.fixture
def artifact_root(tmp_path, settings):
    root = tmp_path / "artifacts"
    root.mkdir()
    settings.GOVBOARD_ARTIFACT_ROOTS = [str(root)]
    return root


@pytest.mark.parametrize("sample", ["tiny.safetensors", "malicious.pkl"])
def test_a_local_artifact_is_hashed_and_scanned_here(team, artifact_root, sample):
    data = (SAMPLES / "artifacts" / sample).read_bytes()
    (artifact_root / sample).write_bytes(data)
    version = ready_version(
        registered_model__team=team,
        checksum=hashlib.sha256(data).hexdigest(),
        storage_uri=f"file://{artifact_root / sample}",
    )
    attach_passing_evidence(version, skip=("artifact_scan",))
    results = latest(submit(version))
    assert results["artifact_checksum"].passed is True
    assert results["artifact_scan"].observed["source"] == "scanned here"
    assert results["artifact_scan"].passed is (sample == "tiny.safetensors")


def test_a_local_artifact_whose_bytes_differ_fails_the_checksum_check(team, artifact_root):
    (artifact_root / "tiny.safetensors").write_bytes(
        (SAMPLES / "artifacts" / "tiny.safetensors").read_bytes()
    )
    version = ready_version(
        registered_model__team=team, storage_uri=f"file://{artifact_root / 'tiny.safetensors'}"
    )
    attach_passing_evidence(version, skip=("artifact_scan",))
    request = submit(version)
    result = latest(request)["artifact_checksum"]
    assert (result.passed, result.critical, request.state) == (False, True, "changes_requested")
    assert "Checksum mismatch" in result.detail


# --- AZ-4 ---------------------------------------------------------------------------------

FAILURE_KINDS = ["sbom", "provenance", "dependency_scan", "eval_package", "checksum"]


@pytest.fixture
def az4_world(team):
    """One submitted, checked request per combination of failing critical evidence
    (31 combinations), plus the people who will try to push them through."""
    people = {
        "manager": manager(team),
        "admin": UserFactory(is_superuser=True, is_staff=True),
        "superuser_manager": manager(team, is_superuser=True),
    }
    signers = {role: approver(team, role) for role in BOARD}
    signers_superuser = {role: approver(team, role, is_superuser=True) for role in BOARD}
    requests = {}
    combos = [
        frozenset(k for i, k in enumerate(FAILURE_KINDS) if mask >> i & 1)
        for mask in range(1, 2 ** len(FAILURE_KINDS))
    ]
    for failing in combos:
        version = ready_version(registered_model__team=team)
        attach_passing_evidence(version, skip=tuple(k for k in failing if k != "checksum"))
        if "checksum" in failing:
            other = hashlib.sha256(b"other bytes").hexdigest()
            attach(version, "provenance", provenance_statement(other))
        requests[failing] = submit(version)
    return people, {**signers}, signers_superuser, requests


AZ4_COUNT = {"examples": 0, "promoted": 0}


def test_az4_no_promotion_with_a_failing_critical_check(az4_world):
    # The property below, then its figure, in one test: under pytest-xdist a second test
    # reading the count could run in another worker, which never saw the examples.
    AZ4_COUNT.update(examples=0, promoted=0)
    az4_property(az4_world)
    print(f"AZ-4: {AZ4_COUNT['examples']} cases, {AZ4_COUNT['promoted']} promotions")
    assert AZ4_COUNT["examples"] >= 1000
    assert AZ4_COUNT["promoted"] == 0


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(
    failing=st.sets(st.sampled_from(FAILURE_KINDS), min_size=1),
    overriders=st.lists(st.sampled_from(["manager", "admin", "superuser_manager"]), max_size=3),
    checks=st.lists(st.sampled_from(sorted(ALWAYS_CRITICAL_CHECKS)), min_size=1, max_size=5),
    superuser_signers=st.booleans(),
)
def az4_property(az4_world, failing, overriders, checks, superuser_signers):
    people, signers, signers_superuser, requests = az4_world
    request = requests[frozenset(failing)]
    with transaction.atomic():
        sid = transaction.savepoint()
        for who in overriders:
            for check in checks:
                try:
                    services.check_override(
                        actor=people[who],
                        request=request,
                        check_name=check,
                        justification="Override attempt on a critical check for AZ-4.",
                        expires_at=timezone.now() + timedelta(days=1),
                    )
                except NotPermitted as exc:
                    # Refused because the check is critical, not for the caller's role.
                    assert "critical check" in exc.message, exc.message
                except InvalidInput:
                    pass  # that check has no result on this request: nothing to override
                else:
                    pytest.fail(f"{who} was granted an exception for critical check {check}")
        for role, signer in (signers_superuser if superuser_signers else signers).items():
            with contextlib.suppress(DomainError):
                services.signoff_record(actor=signer, request=request, role=role, password=PASSWORD)
        state = ModelVersion.objects.filter(pk=request.version_id).values_list("state", flat=True)
        AZ4_COUNT["examples"] += 1
        AZ4_COUNT["promoted"] += state.get() == "approved"
        assert state.get() != "approved"
        assert not CheckException.objects.filter(request=request).exists()
        transaction.savepoint_rollback(sid)


def test_sbom_json_sample_is_what_the_passing_evidence_uses():
    assert json.loads((SAMPLES / "sbom-cyclonedx-1.6.json").read_bytes())["bomFormat"]
