"""The checks run outside any transaction, on a snapshot, and store their results under
the request's lock only if the request did not change meanwhile (issue 9, ADR 0006).

Transactional tests: each phase commits for real, and what a check does "meanwhile" (a
withdrawal, an upload, a recheck, another run) commits on its own, as it would from
another process. A check stands in for the slow work through the check registry; it only
records what it saw (``run_check`` turns an exception into a failed check), and the test
asserts afterwards.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from django.db import connections, transaction

from approvals import checks as check_registry
from approvals import services
from approvals.assessment import current_digests
from approvals.choices import CheckName
from approvals.models import CheckResult, PromotionRequest
from approvals.services import checking
from audit.models import AuditEvent
from registry.models import ModelVersion, VulnerabilityFinding
from tests.approvals.factories import (
    attach,
    attach_passing_evidence,
    board_policy,
    ci_user,
    governance_row_counts,
    passing_evidence_documents,
)
from tests.registry.factories import ready_version

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def enqueued(monkeypatch, settings, tmp_path, seeded_policies) -> list[int]:
    """No worker: the runs a submit or a recheck would enqueue are collected instead, and
    the test plays the worker."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    ids: list[int] = []
    monkeypatch.setattr(checking, "enqueue_checks", ids.append)
    return ids


def submitted_request(*, skip: tuple[str, ...] = ()) -> PromotionRequest:
    """A request submitted by the team's CI with passing evidence (but ``skip``), whose
    checks have not run yet."""
    version = ready_version()
    team = version.registered_model.team
    board_policy(team)
    attach_passing_evidence(version, skip=skip)
    request = services.promotion_request_submit(actor=ci_user(team), version=version)
    assert request.state == "submitted"
    return request


def while_checking(monkeypatch, name: str, meanwhile, *, times: int = 1) -> list:
    """Make check ``name`` call ``meanwhile(request_id)`` on its first ``times`` runs,
    before doing its real work; returns what each call returned."""
    original = check_registry.CHECKS[name]
    seen: list = []
    runs = []

    def check(ctx):
        runs.append(ctx)  # counted first: ``meanwhile`` may run the checks itself
        if len(runs) <= times:
            seen.append(meanwhile(ctx))
        return original(ctx)

    monkeypatch.setitem(check_registry.CHECKS, name, check)
    return seen


def verbs_of(request: PromotionRequest) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            object_type="approvals.promotionrequest", object_id=str(request.pk)
        )
        .order_by("id")
        .values_list("verb", flat=True)
    )


def stored_rows() -> dict[str, int]:
    return governance_row_counts() | {
        "check_results": CheckResult.objects.count(),
        "findings": VulnerabilityFinding.objects.count(),
    }


def test_the_checks_run_with_no_transaction_open_and_the_request_row_unlocked(
    enqueued, monkeypatch
):
    # Given a submitted request
    request = submitted_request()

    # When the worker runs its checks, and another connection tries to lock the request's
    # row (FOR UPDATE NOWAIT on PostgreSQL; on SQLite, taking the database's write lock)
    # while the artifact is being "hashed"
    def observe_from_another_connection(ctx):
        found = {"in_transaction": transaction.get_connection().in_atomic_block}

        def lock_the_row():
            try:
                with transaction.atomic():
                    found["state"] = (
                        PromotionRequest.objects.select_for_update(nowait=True)
                        .values_list("state", flat=True)
                        .get(pk=request.pk)
                    )
            except Exception as exc:  # what the test reports, not a crash
                found["error"] = exc
            finally:
                connections.close_all()

        other = threading.Thread(target=lock_the_row)
        other.start()
        other.join(timeout=60)
        return found

    seen = while_checking(monkeypatch, CheckName.ARTIFACT_CHECKSUM, observe_from_another_connection)
    checked = services.promotion_request_run_checks(request_id=request.pk, via="test worker")

    # Then the check ran outside any transaction, the other connection locked the row at
    # once and saw the committed "checking", and the run then finished as ever
    assert seen == [{"in_transaction": False, "state": "checking"}]
    assert checked.state == "in_review"
    assert verbs_of(request) == [
        "promotion.submitted",
        "promotion.checks_started",
        "promotion.checked",
    ]


def test_a_request_withdrawn_while_its_checks_run_gets_no_results_and_stays_withdrawn(
    enqueued, monkeypatch
):
    # Given a submitted request
    request = submitted_request()
    ci = ci_user(request.version.registered_model.team)

    # When CI withdraws it while its checks run
    def withdraw(ctx):
        services.promotion_request_withdraw(actor=ci, request=request.pk)
        return stored_rows()

    seen = while_checking(monkeypatch, CheckName.DEPENDENCY_SCAN, withdraw)
    returned = services.promotion_request_run_checks(request_id=request.pk, via="test worker")

    # Then the run stored nothing after the withdrawal (no results, findings, events)
    assert stored_rows() == seen[0]
    assert CheckResult.objects.filter(request=request).count() == 0
    # And the request stays withdrawn, its version a draft, with no check event
    assert returned.state == "withdrawn"
    assert PromotionRequest.objects.get(pk=request.pk).state == "withdrawn"
    assert ModelVersion.objects.get(pk=request.version_id).state == "draft"
    assert verbs_of(request) == [
        "promotion.submitted",
        "promotion.checks_started",
        "promotion.withdrawn",
    ]


def test_evidence_uploaded_while_the_checks_run_is_checked_before_any_result_is_stored(
    enqueued, monkeypatch
):
    # Given a submitted request without its SBOM (a critical check would fail)
    request = submitted_request(skip=("sbom",))
    version = request.version

    # When CI uploads the SBOM while the checks run
    sbom = passing_evidence_documents(version)["sbom"]
    seen = while_checking(monkeypatch, CheckName.SBOM, lambda ctx: attach(version, "sbom", sbom))
    checked = services.promotion_request_run_checks(request_id=request.pk, via="test worker")

    # Then the stale results (SBOM missing) were never stored: one run, on the new SBOM
    assert checked.state == "in_review"
    assert list(CheckResult.objects.filter(request=request).values_list("run", flat=True)) == (
        [1] * len(check_registry.checks_for_policy(request.policy_snapshot))
    )
    sbom_result = CheckResult.objects.get(request=request, check_name=CheckName.SBOM)
    assert sbom_result.passed
    assert sbom_result.evidence_sha256 == seen[0].sha256
    assert checked.checked_evidence == current_digests(version)
    # And the version became a candidate; the log shows one check event and no send-back
    assert ModelVersion.objects.get(pk=version.pk).state == "candidate"
    assert verbs_of(request) == [
        "promotion.submitted",
        "promotion.checks_started",
        "promotion.checked",
    ]


def test_evidence_changing_during_every_run_leaves_the_request_checking_for_the_sweep(
    enqueued, monkeypatch, caplog
):
    # Given a submitted request
    request = submitted_request()
    version = request.version
    clean_scan = passing_evidence_documents(version)["dependency_scan"]
    scans = [clean_scan + b" " * n for n in range(1, 6)]  # new bytes, the same report

    # When a new dependency scan arrives during each of the run's attempts
    while_checking(
        monkeypatch,
        CheckName.DEPENDENCY_SCAN,
        lambda ctx: attach(version, "dependency_scan", scans.pop()),
        times=checking.SNAPSHOT_ATTEMPTS,
    )
    with caplog.at_level(logging.WARNING, logger="approvals.services.checking"):
        returned = services.promotion_request_run_checks(request_id=request.pk, via="worker")

    # Then nothing is stored, the request is left checking, and the stuck-checks sweep
    # picks it up again
    assert returned.state == "checking"
    assert CheckResult.objects.filter(request=request).count() == 0
    assert verbs_of(request) == ["promotion.submitted", "promotion.checks_started"]
    assert "left checking for the sweep" in caplog.text
    assert services.requests_stuck_in_checks(older_than=timedelta(0)) == [request.pk]


def test_another_run_finishing_first_makes_the_slower_run_store_nothing(enqueued, monkeypatch):
    # Given a submitted request
    request = submitted_request()

    # When a second worker (a duplicate delivery) runs the same request's checks to the
    # end while the first worker's checks are still running
    def another_worker(ctx):
        return services.promotion_request_run_checks(request_id=request.pk, via="worker 2").state

    seen = while_checking(monkeypatch, CheckName.EVALS_FRESH, another_worker)
    first = services.promotion_request_run_checks(request_id=request.pk, via="worker 1")

    # Then only the run that finished first is stored, once
    assert seen == ["in_review"]
    assert first.state == "in_review"
    assert set(CheckResult.objects.filter(request=request).values_list("run", flat=True)) == {1}
    assert verbs_of(request) == [
        "promotion.submitted",
        "promotion.checks_started",
        "promotion.checked",
    ]
    checked = AuditEvent.objects.get(object_id=str(request.pk), verb="promotion.checked")
    assert checked.actor_label == "worker 2"


def test_a_recheck_requested_while_the_checks_run_makes_the_run_in_flight_give_way(
    enqueued, monkeypatch
):
    # Given a submitted request
    request = submitted_request()
    ci = ci_user(request.version.registered_model.team)
    enqueued.clear()  # the submit's run: the one this test plays first

    # When CI asks for a recheck while the checks run
    while_checking(
        monkeypatch,
        CheckName.SBOM,
        lambda ctx: services.promotion_request_recheck(actor=ci, request=request.pk),
    )
    in_flight = services.promotion_request_run_checks(request_id=request.pk, via="worker 1")

    # Then the run in flight stores nothing and the request waits for the run the
    # recheck enqueued
    assert in_flight.state == "checking"
    assert CheckResult.objects.filter(request=request).count() == 0
    assert enqueued == [request.pk]

    # When that run runs
    rerun = services.promotion_request_run_checks(request_id=request.pk, via="worker 2")

    # Then its results are the request's first and only run
    assert rerun.state == "in_review"
    assert set(CheckResult.objects.filter(request=request).values_list("run", flat=True)) == {1}
    assert verbs_of(request) == [
        "promotion.submitted",
        "promotion.checks_started",
        "promotion.recheck_requested",
        "promotion.checked",
    ]


def test_checks_run_inline_still_go_through_the_three_phases_in_the_callers_transaction(
    enqueued,
):
    # Given a draft version with passing evidence
    version = ready_version()
    team = version.registered_model.team
    board_policy(team)
    attach_passing_evidence(version)

    # When CI submits it with the checks run inline
    request = services.promotion_request_submit(
        actor=ci_user(team), version=version, run_checks_now=True
    )

    # Then the request is in review when submit returns, and nothing was enqueued
    assert request.state == "in_review"
    assert enqueued == []
    assert ModelVersion.objects.get(pk=version.pk).state == "candidate"
    assert verbs_of(request) == [
        "promotion.submitted",
        "promotion.checks_started",
        "promotion.checked",
    ]
