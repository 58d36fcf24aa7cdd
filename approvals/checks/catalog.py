"""The catalog of checks: every check by name, which of them a policy runs and how
critical each is, and running one fail-closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from approvals.checks.context import CheckContext, CheckOutcome, make_outcome
from approvals.checks.evaluations import check_eval_thresholds, check_evals_fresh
from approvals.checks.metadata import check_metadata_complete, check_rollback_target
from approvals.checks.release import RING_CHECKS, ring_checks_plan
from approvals.checks.supply_chain import (
    check_artifact_checksum,
    check_artifact_scan,
    check_dependency_scan,
    check_model_signature,
    check_provenance,
    check_sbom,
)
from approvals.choices import ALWAYS_CRITICAL_CHECKS, ALWAYS_CRITICAL_RING_CHECKS, CheckName

CHECKS: dict[str, Callable[[CheckContext], CheckOutcome]] = {
    CheckName.METADATA_COMPLETE: check_metadata_complete,
    CheckName.ROLLBACK_TARGET: check_rollback_target,
    CheckName.SBOM: check_sbom,
    CheckName.PROVENANCE: check_provenance,
    CheckName.ARTIFACT_CHECKSUM: check_artifact_checksum,
    CheckName.MODEL_SIGNATURE: check_model_signature,
    CheckName.DEPENDENCY_SCAN: check_dependency_scan,
    CheckName.ARTIFACT_SCAN: check_artifact_scan,
    CheckName.EVAL_THRESHOLDS: check_eval_thresholds,
    CheckName.EVALS_FRESH: check_evals_fresh,
}


def checks_for_policy(snapshot: dict[str, Any]) -> list[tuple[str, bool]]:
    """(check name, critical) for every check a policy snapshot runs, in a stable order.

    The always-critical checks run whatever the policy says and are always critical; a
    policy may mark other checks critical (no override) or leave them overridable.
    """
    configured = snapshot.get("checks") or {}
    plan = []
    for name in CHECKS:
        if name in ALWAYS_CRITICAL_CHECKS:
            plan.append((name, True))
        elif name in configured or not configured:
            critical = bool((configured.get(name) or {}).get("critical", False))
            plan.append((name, critical))
    return plan


def checks_for_request(request: Any) -> list[tuple[str, bool]]:
    """The plan of one request: a ring request (``release`` set) runs the ring checks of
    its target ring instead of the version's evidence checks (``approvals.checks.release``)."""
    if getattr(request, "release_id", None):
        return ring_checks_plan(request.policy_snapshot, request.target_ring)
    return checks_for_policy(request.policy_snapshot)


def is_critical(name: str, snapshot: dict[str, Any]) -> bool:
    if name in ALWAYS_CRITICAL_CHECKS or name in ALWAYS_CRITICAL_RING_CHECKS:
        return True
    return bool(((snapshot.get("checks") or {}).get(name) or {}).get("critical", False))


#: No exception lasts longer than this, whatever a policy says.
MAX_EXCEPTION_DAYS = 365
CRITICAL_REFUSAL = "critical safety check: cannot be overridden"
PASSED_REFUSAL = "passed"


def exception_max_days(snapshot: dict[str, Any]) -> int:
    """How long a manager's exception may last under a policy snapshot: the policy's own
    ``max_exception_days`` if it names one, else its approval validity (an exception that
    outlived the approval it let through would excuse nothing), never over a year."""
    days = snapshot.get("max_exception_days") or snapshot.get("approval_validity_days") or 90
    return max(1, min(int(days), MAX_EXCEPTION_DAYS))


def override_refusal(name: str, *, passed: bool, critical: bool, snapshot: dict[str, Any]) -> str:
    """Why a check's latest result cannot get an exception, or "" if it can."""
    if critical or is_critical(name, snapshot):
        return CRITICAL_REFUSAL
    if passed:
        return PASSED_REFUSAL
    return ""


def run_check(name: str, ctx: CheckContext, *, critical: bool) -> CheckOutcome:
    """Run one check; a crash is a failed check (fail closed), never a pass."""
    try:
        result = (CHECKS.get(name) or RING_CHECKS[name])(ctx)
    except Exception as exc:
        result = make_outcome(name, False, f"The check could not run: {type(exc).__name__}: {exc}")
    return CheckOutcome(
        name=result.name,
        passed=result.passed,
        detail=result.detail,
        critical=critical,
        observed=result.observed,
        evidence_sha256=result.evidence_sha256,
    )
