"""A governance policy's rollback triggers: what a monitoring report must not show.

A policy's ``rollback_triggers`` is a list of triggers, validated like the rest of the
policy (``rollback_triggers_problems``) and evaluated on every monitoring report uploaded
for a release the policy let into a ring (``evaluate_triggers``)::

    [
        {"name": "p95 latency", "metric": "latency_p95_ms", "max": 250,
         "severity": "sev2", "blocks_promotion": true},
        {"name": "retry spike", "metric": "retry_rate", "max_increase": 0.5,
         "severity": "sev3", "blocks_promotion": false},
        {"name": "protected segment", "metric": "segment_quality", "max_drop": 0.05,
         "severity": "sev1", "blocks_promotion": true},
    ]

Bounds, by metric:

- ``latency_p95_ms``, ``retry_rate``, ``disagreement_rate``, ``request_volume``: ``max``
  and ``min`` (absolute; a rate's bounds lie in 0..1) and ``max_increase``, the relative
  rise over the previous report of the same release, environment and ring (0.5 = +50 %, a
  "retry-rate spike"). A previous value of 0 has no relative rise: bound it with ``max``.
  A metric the report does not carry (``disagreement_rate`` may be absent) is not judged.
- ``drift``: ``max`` and ``max_increase``, judged per feature of ``drift_scores``.
- ``segment_quality``: ``min`` and ``max_drop``, judged only for PROTECTED segments.
  ``max_drop`` is an absolute fall in quality below the segment's ``baseline``, or below
  the same segment's quality in the previous report when the report gives no baseline.

Every trigger has a unique ``name``, a ``severity`` (``sev1`` .. ``sev4``) and says whether
a breach ``blocks_promotion`` to the next ring. This module reads plain data only (no
models), so the policy model and the monitoring service both import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from approvals.choices import IncidentSeverity

SCALAR_METRICS = ("latency_p95_ms", "retry_rate", "disagreement_rate", "request_volume")
RATE_METRICS = ("retry_rate", "disagreement_rate")
TRIGGER_METRICS = (*SCALAR_METRICS, "drift", "segment_quality")

# The bounds each metric takes.
_BOUNDS: dict[str, tuple[str, ...]] = {
    **{metric: ("max", "min", "max_increase") for metric in SCALAR_METRICS},
    "drift": ("max", "max_increase"),
    "segment_quality": ("min", "max_drop"),
}
TRIGGER_BOUNDS = ("max", "min", "max_increase", "max_drop")
TRIGGER_KEYS = frozenset({"name", "metric", "severity", "blocks_promotion", *TRIGGER_BOUNDS})

# sev1 is the most severe; ``most_severe`` picks the lowest rank.
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(IncidentSeverity.values)}


def is_number(value: Any) -> bool:
    """A JSON number that is not a boolean, NaN or infinite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def rollback_triggers_problems(value: Any) -> list[str]:
    """Every reason ``value`` is not a valid ``rollback_triggers`` document (empty: valid).

    Each message names the trigger (by name or position) and the key, so a policy editor
    sees what to fix.
    """
    if not isinstance(value, list):
        return ["must be a list of triggers"]
    problems: list[str] = []
    names: set[str] = set()
    for position, trigger in enumerate(value, start=1):
        if not isinstance(trigger, dict):
            problems.append(f"trigger {position}: must be an object")
            continue
        name = trigger.get("name")
        label = f"trigger {name!r}" if isinstance(name, str) and name.strip() else None
        if label is None:
            label = f"trigger {position}"
            problems.append(f"{label}: name is required (a non-blank string)")
        elif name in names:
            problems.append(f"{label}: the name is used twice")
        else:
            names.add(name)
        for key in sorted(set(trigger) - TRIGGER_KEYS):
            problems.append(f"{label}: unknown key {key!r}")
        if trigger.get("severity") not in IncidentSeverity.values:
            problems.append(
                f"{label}: severity must be one of {', '.join(IncidentSeverity.values)}"
            )
        if not isinstance(trigger.get("blocks_promotion"), bool):
            problems.append(f"{label}: blocks_promotion must be true or false")
        metric = trigger.get("metric")
        if metric not in TRIGGER_METRICS:
            problems.append(f"{label}: metric must be one of {', '.join(TRIGGER_METRICS)}")
            continue
        problems.extend(_bound_problems(label, metric, trigger))
    return problems


def _bound_problems(label: str, metric: str, trigger: dict) -> list[str]:
    problems = []
    allowed = _BOUNDS[metric]
    given = [bound for bound in TRIGGER_BOUNDS if bound in trigger]
    if not given:
        problems.append(f"{label}: needs at least one of {', '.join(allowed)}")
    for bound in given:
        limit = trigger[bound]
        if bound not in allowed:
            problems.append(f"{label}: {bound} does not apply to {metric}")
        elif not is_number(limit):
            problems.append(f"{label}: {bound} must be a number, not {limit!r}")
        elif limit < 0 and (bound in ("max_increase", "max_drop") or metric != "drift"):
            problems.append(f"{label}: {bound} must not be negative")
        elif metric in RATE_METRICS and bound in ("max", "min") and limit > 1:
            problems.append(f"{label}: {bound} of a rate must lie between 0 and 1")
    low, high = trigger.get("min"), trigger.get("max")
    if is_number(low) and is_number(high) and low > high:
        problems.append(f"{label}: min is above max")
    return problems


def _read(report: Any, name: str) -> Any:
    """A report's field, from a ``MonitoringReport`` or a plain mapping."""
    if report is None:
        return None
    if isinstance(report, Mapping):
        return report.get(name)
    return getattr(report, name, None)


def _breach(trigger: dict, bound: str, observed: float, **where: Any) -> dict[str, Any]:
    return {
        "trigger": trigger["name"],
        "metric": trigger["metric"],
        "bound": bound,
        "limit": trigger[bound],
        "observed": observed,
        "segment": where.pop("segment", None),
        "feature": where.pop("feature", None),
        **where,
        "severity": trigger["severity"],
        "blocks_promotion": trigger["blocks_promotion"],
    }


def _judge_value(trigger: dict, current: Any, previous: Any, **where: Any) -> list[dict[str, Any]]:
    """The breaches of one observed value (a scalar metric or one drift feature)."""
    if not is_number(current):
        return []
    breaches = []
    if "max" in trigger and current > trigger["max"]:
        breaches.append(_breach(trigger, "max", current, **where))
    if "min" in trigger and current < trigger["min"]:
        breaches.append(_breach(trigger, "min", current, **where))
    if "max_increase" in trigger and is_number(previous) and previous > 0:
        increase = (current - previous) / previous
        if increase > trigger["max_increase"]:
            breaches.append(
                _breach(
                    trigger,
                    "max_increase",
                    current,
                    previous=previous,
                    increase=round(increase, 6),
                    **where,
                )
            )
    return breaches


def _judge_segments(trigger: dict, report: Any, previous: Any) -> list[dict[str, Any]]:
    segments = _read(report, "segments") or {}
    before = _read(previous, "segments") or {}
    breaches = []
    for name in sorted(segments):
        segment = segments[name]
        if not isinstance(segment, Mapping) or segment.get("protected") is not True:
            continue
        quality = segment.get("quality")
        if not is_number(quality):
            continue
        if "min" in trigger and quality < trigger["min"]:
            breaches.append(_breach(trigger, "min", quality, segment=name))
        if "max_drop" in trigger:
            reference, against = segment.get("baseline"), "baseline"
            if not is_number(reference):
                earlier = before.get(name)
                reference = earlier.get("quality") if isinstance(earlier, Mapping) else None
                against = "previous"
            if is_number(reference) and reference - quality > trigger["max_drop"]:
                breaches.append(
                    _breach(
                        trigger,
                        "max_drop",
                        quality,
                        segment=name,
                        reference=reference,
                        against=against,
                        drop=round(reference - quality, 6),
                    )
                )
    return breaches


def evaluate_triggers(triggers: list[dict], report: Any, previous: Any = None) -> list[dict]:
    """The breaches of ``report`` under ``triggers`` (valid triggers; empty: all held).

    ``report`` and ``previous`` (the previous report of the same release, environment and
    ring, or None) are ``MonitoringReport`` rows or mappings with the same keys. Each
    breach names the trigger, the metric, the bound and its limit, the observed value, the
    segment or drift feature (None otherwise), what a relative bound compared with, and
    the trigger's severity and ``blocks_promotion``; in trigger order, then segment or
    feature name.
    """
    breaches: list[dict] = []
    for trigger in triggers:
        metric = trigger["metric"]
        if metric in SCALAR_METRICS:
            breaches += _judge_value(trigger, _read(report, metric), _read(previous, metric))
        elif metric == "drift":
            scores = _read(report, "drift_scores") or {}
            earlier = _read(previous, "drift_scores") or {}
            for feature in sorted(scores):
                breaches += _judge_value(
                    trigger, scores[feature], earlier.get(feature), feature=feature
                )
        else:
            breaches += _judge_segments(trigger, report, previous)
    return breaches


def most_severe(breaches: list[dict]) -> str:
    """The most severe severity among ``breaches`` (at least one)."""
    return min((breach["severity"] for breach in breaches), key=SEVERITY_RANK.__getitem__)
