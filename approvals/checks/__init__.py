"""The automated checks a promotion request must pass before review.

Each check is a function of one ``CheckContext`` (the version, the request and the
evidence, loaded once per run in a fixed number of queries) returning a ``CheckOutcome``
that records what it saw. ``approvals.services`` stores the outcomes and moves the request.
Checks are conditions on the version, never permissions: nobody's role makes a failing
check pass, and the always-critical ones (missing SBOM or provenance, checksum mismatch,
open critical CVE, stale evals) cannot be overridden at all.

Modules: ``context`` (``CheckContext``, ``CheckOutcome``), ``metadata``, ``supply_chain``,
``evaluations`` (the checks), ``catalog`` (every check by name, which a policy runs,
``run_check``).
"""

from approvals.checks.catalog import (
    CHECKS,
    CRITICAL_REFUSAL,
    MAX_EXCEPTION_DAYS,
    PASSED_REFUSAL,
    checks_for_policy,
    checks_for_request,
    exception_max_days,
    is_critical,
    override_refusal,
    run_check,
)
from approvals.checks.context import CheckContext, CheckOutcome

__all__ = [
    "CHECKS",
    "CRITICAL_REFUSAL",
    "MAX_EXCEPTION_DAYS",
    "PASSED_REFUSAL",
    "CheckContext",
    "CheckOutcome",
    "checks_for_policy",
    "checks_for_request",
    "exception_max_days",
    "is_critical",
    "override_refusal",
    "run_check",
]
