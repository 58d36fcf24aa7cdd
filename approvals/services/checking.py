"""Running a promotion request's automated checks: the worker's entry point, the re-check
verb, and the run itself (the checks' results, the findings they parsed, the request's
move to review or back to CI, and the version's move with it).

A run has three phases (ADR 0006), so the slow work never holds a transaction or a lock:

1. Snapshot, in a short transaction with the request locked: ``submitted`` → ``checking``,
   committed with its audit event (observers see ``checking`` while the work runs); the
   ``CheckContext`` the checks read and a ``Fingerprint`` of what the results bind to.
2. The checks, with no transaction and no lock: reading evidence, hashing and scanning the
   artifact, parsing and verifying.
3. One transaction, the request locked and then its version (ADR 0010): the fingerprint is
   read again; if the request changed meanwhile nothing is stored, and the run returns the
   request as it is. Otherwise the results, the findings, the transition, the audit event
   and the version's move, as before. New evidence on a request still ``checking`` (an
   upload enqueues no run) is checked again on a fresh snapshot, a bounded number of times.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from approvals import checks as check_registry
from approvals.assessment import current_evidence, evidence_digests
from approvals.choices import OPEN_REQUEST_STATES, RequestState
from approvals.models import CheckResult, PromotionRequest
from approvals.services.check_inputs import Fingerprint, changed_since, check_context, fingerprint
from approvals.services.common import locked_request, transition_request
from audit.services import actor_label_for, record
from audit.verbs import AuditVerb
from core.errors import IllegalTransition, NotPermitted
from core.publishing import publish_now
from registry import services as registry_services
from registry.choices import VersionState
from registry.models import ModelVersion

logger = logging.getLogger(__name__)
# Fresh snapshots one run takes while new evidence keeps arriving during its checks.
SNAPSHOT_ATTEMPTS = 3


def enqueue_checks(request_id: int) -> None:
    """After commit: hand the request to a worker. If the broker is down the request
    stays ``submitted`` and the periodic sweep enqueues it again (it is its own outbox)."""
    from approvals.tasks import run_promotion_checks

    publish_now(
        lambda: run_promotion_checks.delay(request_id), what=f"the checks of request {request_id}"
    )


def _begin(
    *, actor: Any, request: PromotionRequest, via: str | None
) -> tuple[check_registry.CheckContext, Fingerprint]:
    """Phase 1, on the request locked: ``submitted`` (or ``in_review``) → ``checking``,
    saved and audited (committed before the checks run, so observers see it), and the
    snapshot the checks run on."""
    if request.state in (RequestState.SUBMITTED, RequestState.IN_REVIEW):
        transition = "start_checks" if request.state == RequestState.SUBMITTED else "restart_checks"
        before = transition_request(request, transition)
        request.save()
        record(
            actor=actor,
            actor_label=actor_label_for(actor, via=via),
            verb=AuditVerb.PROMOTION_CHECKS_STARTED,
            target=request,
            team_id=request.version.registered_model.team_id,
            data={"before": {"state": before}, "after": {"state": request.state}},
        )
    elif request.state != RequestState.CHECKING:
        raise IllegalTransition(f"A {request.state} request cannot be checked.")
    ctx = check_context(request, request.version)
    return ctx, fingerprint(request.pk, request.version, ctx.evidence)


def _evaluate(
    request: PromotionRequest, ctx: check_registry.CheckContext
) -> list[check_registry.CheckOutcome]:
    """Phase 2, with no transaction or lock of ours: the slow work (reading the evidence,
    hashing and scanning the artifact, parsing and verifying), on the snapshot only."""
    plan = check_registry.checks_for_request(request)
    return [check_registry.run_check(name, ctx, critical=critical) for name, critical in plan]


def _finish(
    *,
    actor: Any,
    request_id: int,
    via: str | None,
    ctx: check_registry.CheckContext,
    snapshot: Fingerprint,
    outcomes: list[check_registry.CheckOutcome],
) -> tuple[PromotionRequest | None, bool]:
    """Phase 3, in one transaction: lock the request, then its version (ADR 0010), and
    store the results only if nothing changed since the snapshot. Returns the request as
    it is now and whether a fresh snapshot should run (see ``changed_since``)."""
    try:
        request = locked_request(request_id)
    except PromotionRequest.DoesNotExist:
        return None, False
    version = registry_services.lock_version(request.version_id)
    request.version = version
    changed = changed_since(snapshot, fingerprint(request.pk, version, current_evidence(version)))
    if changed is not None:
        reason, retry = changed
        logger.info("Check results for request %s not stored: %s.", request.pk, reason)
        return request, retry
    _store_results(
        actor=actor, request=request, version=version, ctx=ctx, outcomes=outcomes, via=via
    )
    return request, False


def _store_results(
    *,
    actor: Any,
    request: PromotionRequest,
    version: ModelVersion,
    ctx: check_registry.CheckContext,
    outcomes: list[check_registry.CheckOutcome],
    via: str | None,
) -> None:
    """Store a run's results on the locked ``checking`` request and move it: any critical
    failure → ``changes_requested`` (version back to draft); otherwise → ``in_review``
    (version candidate), with non-critical failures blocking approval until fixed or
    excepted."""
    before = request.state
    run = (CheckResult.objects.filter(request=request).aggregate(m=Max("run"))["m"] or 0) + 1
    # Check results are append-only rows without simple-history (the audit event below
    # carries them), so one multi-row insert is allowed here.
    CheckResult.objects.bulk_create(
        CheckResult(
            request=request,
            run=run,
            check_name=outcome.name,
            passed=outcome.passed,
            critical=outcome.critical,
            detail=outcome.detail,
            observed=outcome.observed,
            evidence_sha256=outcome.evidence_sha256,
        )
        for outcome in outcomes
    )
    _ingest_findings(ctx)
    critical_failures = [o for o in outcomes if not o.passed and o.critical]
    other_failures = [o for o in outcomes if not o.passed and not o.critical]
    request.checked_evidence = evidence_digests(ctx.evidence, version)
    request.checked_at = timezone.now()
    if critical_failures:
        transition_request(request, "request_changes")
        request.reasons = [f"{o.name}: {o.detail}" for o in critical_failures + other_failures]
    else:
        transition_request(request, "enter_review")
        request.reasons = [f"{o.name}: {o.detail}" for o in other_failures]
    request.save()
    record(
        actor=actor,
        actor_label=actor_label_for(actor, via=via),
        verb=AuditVerb.PROMOTION_CHECKED,
        target=request,
        team_id=version.registered_model.team_id,
        data={
            "before": {"state": before},
            "after": {"state": request.state},
            "run": run,
            "evidence": request.checked_evidence,
            "checks": [
                {"name": o.name, "passed": o.passed, "critical": o.critical, "detail": o.detail}
                for o in outcomes
            ],
        },
    )
    if request.release_id:
        # A ring request moves no component: they were judged on their own requests, and
        # its approval approves any candidate among them (ADR 0020).
        return
    if request.state == RequestState.IN_REVIEW and version.state == VersionState.DRAFT:
        # The scheduler's run names its task on the version's event too (``via``).
        registry_services.version_mark_candidate(
            actor=actor, version=version, request_id=request.pk, via=via
        )
    elif (
        request.state == RequestState.CHANGES_REQUESTED and version.state == VersionState.CANDIDATE
    ):
        registry_services.version_return_to_draft(
            actor=actor,
            via=via,
            version=version,
            request_id=request.pk,
            reason="critical checks failed: " + ", ".join(o.name for o in critical_failures),
        )


def _run(*, actor: Any, request_id: int, via: str | None, inline: bool) -> PromotionRequest | None:
    """The three phases, again on a fresh snapshot (at most ``SNAPSHOT_ATTEMPTS`` times)
    while new evidence keeps arriving during the checks.

    Inline, every phase runs in the caller's transaction, which already holds the
    request's lock: the checks then run under it, and phase 3 only catches what other
    connections committed without that lock (new evidence, which locks only the version).
    """
    phase = contextlib.nullcontext if inline else transaction.atomic
    request = None
    for _attempt in range(SNAPSHOT_ATTEMPTS):
        with phase():
            try:
                request = locked_request(request_id)
            except PromotionRequest.DoesNotExist:
                return None
            if not inline and request.state not in (RequestState.SUBMITTED, RequestState.CHECKING):
                return request  # already done: the worker's entry point is idempotent
            ctx, snapshot = _begin(actor=actor, request=request, via=via)
        outcomes = _evaluate(request, ctx)
        with phase():
            request, retry = _finish(
                actor=actor,
                request_id=request_id,
                via=via,
                ctx=ctx,
                snapshot=snapshot,
                outcomes=outcomes,
            )
        if not retry:
            return request
    # Still ``checking``: the stuck-checks sweep (``requests_stuck_in_checks``) runs it again.
    logger.warning(
        "Evidence of request %s changed during each of %s check runs; left checking for the sweep.",
        request_id,
        SNAPSHOT_ATTEMPTS,
    )
    return request


def run_checks(*, actor: Any, request: PromotionRequest, via: str | None) -> PromotionRequest:
    """Run the checks inline, in the caller's transaction, on a request it has locked in
    ``submitted``/``checking``/``in_review`` (``GOVBOARD_RUN_CHECKS_INLINE``, ``run_checks_now``).
    """
    checked = _run(actor=actor, request_id=request.pk, via=via, inline=True)
    assert checked is not None  # the caller holds its lock: it cannot have been deleted
    return checked


def _ingest_findings(ctx: check_registry.CheckContext) -> None:
    """Store the dependency report's findings once per evidence document (set-based),
    from the report the check already parsed."""
    from approvals.evidence import EvidenceError
    from approvals.services.scan_reports import findings_store

    evidence, report = ctx.dependency_report
    if evidence is None or isinstance(report, EvidenceError):
        return
    findings_store(evidence, report)


def promotion_request_run_checks(*, request_id: int, via: str) -> PromotionRequest | None:
    """The worker's entry point: idempotent. Runs the checks for a request that is
    ``submitted`` or ``checking``; anything else is left alone (already done). No
    transaction is held while the checks run (see the module docstring)."""
    return _run(actor=None, request_id=request_id, via=via, inline=False)


@transaction.atomic
def promotion_request_recheck(*, actor: Any, request: PromotionRequest | int) -> PromotionRequest:
    """Re-run the checks (after new evidence, or to clear a transient failure). The team's
    CI or a governance manager; the request must be open. Runs in a worker."""
    # Imported here: requests (submit) imports this module, so a module-level import back
    # would be circular.
    from approvals.services.requests import _may_act_for_request

    locked = locked_request(request)
    if not _may_act_for_request(actor, locked):
        raise NotPermitted("You may not re-run checks for this team's requests.")
    if locked.state not in OPEN_REQUEST_STATES:
        raise IllegalTransition(f"A {locked.state} request cannot be re-checked.")
    before = locked.state
    if locked.state == RequestState.IN_REVIEW:
        transition_request(locked, "restart_checks")
        locked.save()
    elif locked.state == RequestState.CHECKING:
        # A run in flight read its inputs before this request: moving the marker makes it
        # refuse to store them (its fingerprint no longer matches), so the run enqueued
        # below decides, as it did when a run held the lock throughout.
        locked.state_changed_at = timezone.now()
        locked.save()
    record(
        actor=actor,
        verb=AuditVerb.PROMOTION_RECHECK_REQUESTED,
        target=locked,
        team_id=locked.version.registered_model.team_id,
        data={"before": {"state": before}, "after": {"state": locked.state}},
    )
    if getattr(settings, "GOVBOARD_RUN_CHECKS_INLINE", False):
        return run_checks(actor=actor, request=locked, via=None)
    transaction.on_commit(lambda: enqueue_checks(locked.pk))
    return locked


__all__ = [
    "enqueue_checks",
    "promotion_request_recheck",
    "promotion_request_run_checks",
    "run_checks",
]
