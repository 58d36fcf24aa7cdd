"""Read an evaluation package and judge it against a policy's thresholds.

Three promotion checks depend on it (DESIGN "Lifecycle and approval rules"): an eval package
is present, every policy threshold is met, and the evals are fresh for the version's current
prompt/template checksum (stale evals after a prompt change are a critical, non-overridable
failure).

Evaluation package format (JSON, UTF-8, one object)::

    {
      "checkpoint_id": "support-bot-ft-2025-06-01",
      "prompt_checksum": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      "evaluated_at": "2025-06-01T12:30:00Z",
      "metrics": {
        "quality": 0.91, "toxicity": 0.004, "jailbreak_success_rate": 0.02,
        "bias_gap": 0.03, "latency_p95_ms": 640, "cost_per_1k_tokens": 0.12
      },
      "segments": [
        {"name": "locale:de", "metrics": {"quality": 0.86, "toxicity": 0.006}}
      ]
    }

* ``checkpoint_id`` (required): non-empty string of at most 200 characters naming the
  evaluated checkpoint.
* ``prompt_checksum`` (required key): lowercase or uppercase sha256 hex of the prompt or
  template the model was evaluated with (stored lowercase), or ``null`` when the version has
  none. Required, so "no prompt" is a statement rather than an omission.
* ``evaluated_at`` (required): ISO 8601 date-time *with* a UTC offset (``Z`` or ``+02:00``);
  a naive time is ambiguous and refused.
* ``metrics`` (required): object of metric name -> finite number (not a boolean). Names
  start with a letter and use letters, digits, ``_``, ``.`` or ``-`` (at most 64). Any
  metric may appear; the ones above are what policies usually bound.
* ``segments`` (optional, default empty): list of ``{"name", "metrics"}`` for slices of the
  eval set (locale, customer tier, demographic group). Names are unique, non-empty, at most
  100 characters, no control characters.

Unknown keys anywhere are refused, so a misspelt field (``"metric"``) fails loudly instead
of silently dropping the numbers a threshold needs. Parsing goes through
``strictjson.load_json`` (size, depth, duplicate keys, NaN/Infinity, encoding).

Thresholds (policy configuration) look like
``{"quality": {"min": 0.8}, "toxicity": {"max": 0.01}, "latency_p95_ms": {"max": 800}}``.
``min`` passes when observed >= limit, ``max`` when observed <= limit; both may be given.
Each applies to the overall metrics and to every segment that reports the metric (a bad
slice must not hide behind a good average). An overall metric that a threshold bounds but
the package does not report fails as "not reported"; a segment that does not report it is
simply not judged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from approvals.evidence import EvidenceError
from approvals.evidence.strictjson import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, load_json

#: Real eval packages are a few KiB; 1 MiB leaves room for many segments.
DEFAULT_MAX_EVAL_BYTES = min(DEFAULT_MAX_BYTES, 1024 * 1024)

_METRIC_NAME = re.compile(r"\A[A-Za-z][A-Za-z0-9_.\-]{0,63}\Z")
_SHA256 = re.compile(r"\A[0-9a-fA-F]{64}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TOP_LEVEL_REQUIRED = {"checkpoint_id", "prompt_checksum", "evaluated_at", "metrics"}
_TOP_LEVEL_KEYS = _TOP_LEVEL_REQUIRED | {"segments"}
_SEGMENT_KEYS = {"name", "metrics"}
_BOUNDS = {"min": ">=", "max": "<="}


@dataclass(frozen=True)
class EvalSegment:
    """Metrics measured on one slice of the evaluation set."""

    name: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class EvalPackage:
    """A parsed evaluation package; see the module docstring for the format."""

    checkpoint_id: str
    prompt_checksum: str | None
    evaluated_at: datetime
    metrics: dict[str, float]
    segments: list[EvalSegment] = field(default_factory=list)


@dataclass(frozen=True)
class ThresholdResult:
    """One bound checked on the overall metrics (``segment`` is None) or on one segment.

    ``observed`` is None when the metric was not reported; ``comparison`` is ">=" for a
    ``min`` bound and "<=" for a ``max`` bound; ``detail`` is the sentence a reviewer reads.
    """

    metric: str
    segment: str | None
    observed: float | None
    limit: float
    comparison: str
    passed: bool
    detail: str = ""


def parse_eval_package(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_EVAL_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> EvalPackage:
    """Read an evaluation package, or raise ``EvidenceError`` naming the first problem."""
    document = load_json(data, max_bytes=max_bytes, max_depth=max_depth, what="eval package")
    if not isinstance(document, dict):
        raise EvidenceError("The eval package must be a JSON object.")
    _only_keys(document, _TOP_LEVEL_KEYS, "the eval package")
    missing = sorted(_TOP_LEVEL_REQUIRED - document.keys())
    if missing:
        raise EvidenceError("The eval package is missing " + ", ".join(missing) + ".")
    segments_value = document.get("segments", [])
    if not isinstance(segments_value, list):
        raise EvidenceError("The eval package's segments must be an array.")
    segments = []
    seen: set[str] = set()
    for index, segment in enumerate(segments_value):
        where = f"segments[{index}]"
        if not isinstance(segment, dict):
            raise EvidenceError(f"The eval package's {where} must be an object.")
        _only_keys(segment, _SEGMENT_KEYS, where)
        name = segment.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise EvidenceError(
                f"The eval package's {where}.name must be a non-empty string of at most "
                "100 characters."
            )
        if _CONTROL.search(name):
            raise EvidenceError(f"The eval package's {where}.name contains control characters.")
        if name in seen:
            raise EvidenceError(f"The eval package names segment {name!r} twice.")
        seen.add(name)
        segments.append(EvalSegment(name=name, metrics=_metrics(segment.get("metrics"), where)))
    return EvalPackage(
        checkpoint_id=_checkpoint_id(document["checkpoint_id"]),
        prompt_checksum=_prompt_checksum(document["prompt_checksum"]),
        evaluated_at=_evaluated_at(document["evaluated_at"]),
        metrics=_metrics(document["metrics"], "the eval package"),
        segments=segments,
    )


def validate_thresholds(thresholds: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise ``ValueError`` if a policy's thresholds are malformed.

    Why strict: a misspelt bound (``"minimum"``) or a string limit would otherwise be a
    threshold that never fails. Policies should call this when they are saved, so a bad
    policy is refused by its author, not discovered by a failing promotion.
    """
    if not isinstance(thresholds, Mapping):
        raise ValueError("Thresholds must be an object of metric name -> bounds.")
    for metric, bounds in thresholds.items():
        if not isinstance(metric, str) or not _METRIC_NAME.match(metric):
            raise ValueError(f"Threshold metric name {str(metric)[:80]!r} is not valid.")
        if not isinstance(bounds, Mapping) or not bounds:
            raise ValueError(f"Threshold {metric!r} must be an object with min and/or max.")
        unknown = sorted(str(key) for key in bounds if key not in _BOUNDS)
        if unknown:
            raise ValueError(
                f"Threshold {metric!r} has unknown bound(s) {', '.join(unknown)}; "
                "use min and/or max."
            )
        for bound, limit in bounds.items():
            if not _is_number(limit):
                raise ValueError(f"Threshold {metric!r} {bound} must be a finite number.")
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            raise ValueError(f"Threshold {metric!r} has min greater than max.")


def evaluate_thresholds(
    package: EvalPackage, thresholds: Mapping[str, Mapping[str, Any]]
) -> list[ThresholdResult]:
    """Judge every bound on the overall metrics and on each segment that reports the metric.

    Results come in the policy's order: per metric, ``min`` before ``max``, the overall
    result before the segments (in package order). The threshold check passes when every
    result passed. Raises ``ValueError`` for malformed thresholds (see
    ``validate_thresholds``).
    """
    validate_thresholds(thresholds)
    results = []
    for metric, bounds in thresholds.items():
        for bound in ("min", "max"):
            if bound not in bounds:
                continue
            limit = float(bounds[bound])
            comparison = _BOUNDS[bound]
            results.append(_judge(metric, None, package.metrics.get(metric), limit, comparison))
            for segment in package.segments:
                if metric in segment.metrics:
                    results.append(
                        _judge(metric, segment.name, segment.metrics[metric], limit, comparison)
                    )
    return results


def evals_are_fresh(package: EvalPackage, current_prompt_checksum: str | None) -> bool:
    """Whether the package was evaluated with the prompt/template the version has now.

    Fresh only when the checksums are equal (case-insensitively), including both being
    None for a version without a prompt. A version that has a prompt checksum is stale
    against a package that evaluated none, and the other way round: either way the
    numbers describe a different configuration from the one being promoted.
    """
    evaluated = package.prompt_checksum
    if evaluated is None or current_prompt_checksum is None:
        return evaluated is None and current_prompt_checksum is None
    return evaluated.lower() == current_prompt_checksum.strip().lower()


def _judge(
    metric: str, segment: str | None, observed: float | None, limit: float, comparison: str
) -> ThresholdResult:
    where = f"{metric}" if segment is None else f"{metric} in segment {segment!r}"
    if observed is None:
        return ThresholdResult(
            metric, segment, None, limit, comparison, False, f"{where} not reported"
        )
    passed = observed >= limit if comparison == ">=" else observed <= limit
    verdict = "meets" if passed else "fails"
    return ThresholdResult(
        metric,
        segment,
        observed,
        limit,
        comparison,
        passed,
        f"{where} = {observed:g} {verdict} {comparison} {limit:g}",
    )


def _only_keys(document: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(key for key in document if key not in allowed)
    if unknown:
        shown = ", ".join(repr(key[:40]) for key in unknown[:5])
        raise EvidenceError(f"Unknown key(s) in {where}: {shown}.")


def _checkpoint_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise EvidenceError(
            "The eval package's checkpoint_id must be a non-empty string of at most 200 characters."
        )
    if _CONTROL.search(value):
        raise EvidenceError("The eval package's checkpoint_id contains control characters.")
    return value


def _prompt_checksum(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA256.match(value):
        raise EvidenceError(
            "The eval package's prompt_checksum must be 64 hexadecimal characters (sha256) or null."
        )
    return value.lower()


def _evaluated_at(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise EvidenceError("The eval package's evaluated_at must be an ISO 8601 date-time.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise EvidenceError(
            f"The eval package's evaluated_at {value!r} is not an ISO 8601 date-time."
        ) from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise EvidenceError("The eval package's evaluated_at has no UTC offset; add Z or +hh:mm.")
    return moment


def _metrics(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise EvidenceError(f"The metrics of {where} must be an object.")
    metrics = {}
    for name, number in value.items():
        if not _METRIC_NAME.match(name):
            raise EvidenceError(f"Metric name {name[:80]!r} in {where} is not valid.")
        if not _is_number(number):
            raise EvidenceError(f"Metric {name!r} in {where} must be a finite number.")
        metrics[name] = float(number)
    return metrics


def _is_number(value: Any) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
