"""Running a promotion request's automated checks: the worker's entry point, the re-check
verb, and the run itself (the checks' results, the findings they parsed, the request's
move to review or back to CI, and the version's move with it)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from approvals import checks as check_registry
from approvals.assessment import current_evidence, evidence_digests
from approvals.choices import OPEN_REQUEST_STATES, RequestState
from approvals.evidence.provenance import TrustedKey
from approvals.models import CheckResult, PromotionRequest, TrustedSigningKey
from approvals.services.common import locked_request, transition_request
from audit.services import actor_label_for, record
from audit.verbs import AuditVerb
from core.errors import IllegalTransition, NotPermitted
from registry import services as registry_services
from registry.choices import VersionState
from registry.models import Evidence, ModelVersion

logger = logging.getLogger(__name__)


def enqueue_checks(request_id: int) -> None:
    """After commit: hand the request to a worker. If the broker is down the request
    stays ``submitted`` and the periodic sweep enqueues it again (it is its own outbox)."""
    from approvals.tasks import run_promotion_checks

    try:
        run_promotion_checks.delay(request_id)
    except Exception:
        logger.warning("Could not enqueue checks for request %s; the sweep will.", request_id)


def _check_context(request: PromotionRequest, version: ModelVersion) -> check_registry.CheckContext:
    """Everything the checks read, in a fixed number of queries."""
    evidence = current_evidence(version)
    approved_ids = list(
        ModelVersion.objects.filter(
            registered_model_id=version.registered_model_id, state=VersionState.APPROVED
        ).values_list("id", flat=True)
    )
    dataset_uses = list(version.dataset_links.values_list("use", flat=True))
    trusted_keys, pems = [], []
    for key in TrustedSigningKey.objects.filter(is_active=True):
        try:
            trusted_keys.append(
                TrustedKey(keyid=key.keyid, public_key=key.public_key_pem, scheme=key.scheme)
            )
        except ValueError:
            logger.warning("Trusted key %s is unusable; ignored.", key.keyid)
        pems.append(key.public_key_pem.encode())

    def read(document: Evidence) -> bytes:
        with registry_services.evidence_open(document) as handle:
            return handle.read(registry_services.max_evidence_bytes() + 1)

    return check_registry.CheckContext(
        version=version,
        rollback_target=request.rollback_target,
        approved_ids=approved_ids,
        dataset_uses=dataset_uses,
        evidence=evidence,
        read_evidence=read,
        trusted_keys=trusted_keys,
        trusted_key_pems=pems,
        metric_thresholds=request.policy_snapshot.get("metric_thresholds") or {},
        artifact_roots=[Path(root) for root in getattr(settings, "GOVBOARD_ARTIFACT_ROOTS", [])],
        current_prompt_checksum=version.prompt_checksum,
        finding_verdicts=registry_services.effective_triages(version.pk),
    )


def run_checks(*, actor: Any, request: PromotionRequest, via: str | None) -> PromotionRequest:
    """Run the policy's checks on a locked request in ``submitted``/``checking``/``in_review``
    and move it: any critical failure → ``changes_requested`` (version back to draft);
    otherwise → ``in_review`` (version candidate), with non-critical failures blocking
    approval until fixed or excepted."""
    version = request.version
    if request.state == RequestState.SUBMITTED:
        before = transition_request(request, "start_checks")
    elif request.state == RequestState.IN_REVIEW:
        before = transition_request(request, "restart_checks")
    elif request.state == RequestState.CHECKING:
        before = RequestState.CHECKING
    else:
        raise IllegalTransition(f"A {request.state} request cannot be checked.")
    ctx = _check_context(request, version)
    plan = check_registry.checks_for_policy(request.policy_snapshot)
    outcomes = [check_registry.run_check(name, ctx, critical=critical) for name, critical in plan]
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
    if request.state == RequestState.IN_REVIEW and version.state == VersionState.DRAFT:
        registry_services.version_mark_candidate(
            actor=actor, version=version, request_id=request.pk
        )
    elif (
        request.state == RequestState.CHANGES_REQUESTED and version.state == VersionState.CANDIDATE
    ):
        registry_services.version_return_to_draft(
            actor=actor,
            version=version,
            request_id=request.pk,
            reason="critical checks failed: " + ", ".join(o.name for o in critical_failures),
        )
    return request


def _ingest_findings(ctx: check_registry.CheckContext) -> None:
    """Store the dependency report's findings once per evidence document (set-based),
    from the report the check already parsed."""
    from approvals.evidence import EvidenceError
    from registry.models import VulnerabilityFinding

    evidence, report = ctx.dependency_report
    if evidence is None or isinstance(report, EvidenceError):
        return
    if VulnerabilityFinding.objects.filter(evidence=evidence).exists():
        return
    VulnerabilityFinding.objects.bulk_create(
        VulnerabilityFinding(
            evidence=evidence,
            vulnerability_id=f.vulnerability_id,
            package=f.package,
            installed_version=f.installed_version,
            severity=f.severity,
            fixed_version=f.fixed_version,
            status=f.status,
            source_format=f.source_format,
        )
        for f in report.findings
    )


@transaction.atomic
def promotion_request_run_checks(*, request_id: int, via: str) -> PromotionRequest | None:
    """The worker's entry point: idempotent. Runs the checks for a request that is
    ``submitted`` or ``checking``; anything else is left alone (already done)."""
    try:
        request = locked_request(request_id)
    except PromotionRequest.DoesNotExist:
        return None
    if request.state not in (RequestState.SUBMITTED, RequestState.CHECKING):
        return request
    return run_checks(actor=None, request=request, via=via)


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
