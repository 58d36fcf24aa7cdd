"""The evaluation checks: the package's metrics meet the policy's thresholds, and the
evaluations describe what is being promoted."""

from __future__ import annotations

from approvals.checks.context import CheckContext, CheckOutcome, make_outcome, missing_document
from approvals.choices import CheckName
from approvals.evidence import EvidenceError
from core.numbers import format_number
from registry.choices import EvidenceKind, ModelKind
from registry.models import ModelVersion


def check_eval_thresholds(ctx: CheckContext) -> CheckOutcome:
    """The evaluation package's metrics, overall and per segment, meet the policy's
    thresholds; every number is shown next to its bound."""
    from approvals.evidence.evals import evaluate_thresholds, parse_eval_package

    name = CheckName.EVAL_THRESHOLDS
    evidence, data = ctx.document(EvidenceKind.EVAL_PACKAGE)
    if evidence is None:
        return missing_document(name, "evaluation package")
    try:
        package = parse_eval_package(data)
        results = evaluate_thresholds(package, ctx.metric_thresholds)
    except (EvidenceError, ValueError) as exc:
        return make_outcome(
            name, False, f"The eval package is unreadable: {exc}", evidence=evidence
        )
    rows = [
        {
            "metric": r.metric,
            "segment": r.segment,
            "observed": r.observed,
            "comparison": r.comparison,
            "limit": r.limit,
            "passed": r.passed,
        }
        for r in results
    ]
    failed = [r for r in results if not r.passed]
    observed = {"checkpoint_id": package.checkpoint_id, "results": rows[:200]}
    if failed:
        shown = "; ".join(
            f"{r.metric}{'[' + r.segment + ']' if r.segment else ''} = "
            f"{format_number(r.observed) or 'not reported'} "
            f"(needs {r.comparison} {format_number(r.limit)})"
            for r in failed[:5]
        )
        return make_outcome(
            name,
            False,
            f"{len(failed)} of {len(results)} thresholds missed: {shown}",
            evidence=evidence,
            **observed,
        )
    return make_outcome(
        name,
        True,
        f"All {len(results)} thresholds met (overall and per segment).",
        evidence=evidence,
        **observed,
    )


def _checkpoint_names(version: ModelVersion) -> set[str]:
    model = version.registered_model
    return {version.checksum, version.version, f"{model.name}@{version.version}"}


def check_evals_fresh(ctx: CheckContext) -> CheckOutcome:
    """The evaluations describe what is being promoted.

    For a prompt or config version, the package's ``prompt_checksum`` must equal the
    version's checksum (a changed prompt makes earlier evals stale). For a model or an
    adapter, the package's ``checkpoint_id`` must name this version (its sha256, its
    version string or ``name@version``) and, when the package declares a prompt checksum,
    it must be the one ``current_prompt_checksum`` names (if known).
    """
    from approvals.evidence.evals import evals_are_fresh, parse_eval_package

    name = CheckName.EVALS_FRESH
    evidence, data = ctx.document(EvidenceKind.EVAL_PACKAGE)
    if evidence is None:
        return missing_document(name, "evaluation package")
    try:
        package = parse_eval_package(data)
    except EvidenceError as exc:
        return make_outcome(
            name, False, f"The eval package is unreadable: {exc}", evidence=evidence
        )
    version = ctx.version
    observed = {
        "checkpoint_id": package.checkpoint_id,
        "evaluated_prompt_checksum": package.prompt_checksum,
        "evaluated_at": package.evaluated_at.isoformat(),
    }
    if version.registered_model.kind in (ModelKind.PROMPT, ModelKind.CONFIG):
        current = version.checksum
        fresh = evals_are_fresh(package, current)
        detail = (
            "Evaluated with the current prompt/template."
            if fresh
            else f"Stale: evaluated with prompt {package.prompt_checksum}, the version's "
            f"prompt/template is {current}."
        )
        return make_outcome(name, fresh, detail, evidence=evidence, current=current, **observed)
    if package.checkpoint_id not in _checkpoint_names(version):
        return make_outcome(
            name,
            False,
            f"Stale: the package evaluated checkpoint {package.checkpoint_id!r}, not this "
            f"version ({version.version}, sha256 {version.checksum}).",
            evidence=evidence,
            **observed,
        )
    current = ctx.current_prompt_checksum or None
    if current and not evals_are_fresh(package, current):
        return make_outcome(
            name,
            False,
            f"Stale: evaluated with prompt {package.prompt_checksum}, the current "
            f"prompt/template is {current}.",
            evidence=evidence,
            current=current,
            **observed,
        )
    return make_outcome(
        name, True, "The package evaluated this checkpoint.", evidence=evidence, **observed
    )
