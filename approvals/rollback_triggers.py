"""The shape of a policy's rollback triggers (``GovernancePolicy.rollback_triggers``).

A trigger is ``{"name", "metric", "severity", "blocks_promotion", <one or more bounds>}``:
``metric`` is one of ``TRIGGER_METRICS``; the bounds are ``max`` / ``min`` (the report's
value), ``max_increase`` (relative to the previous report of the same release, ring and
environment: 0.5 is 50% up) and ``max_drop`` (a protected segment's quality below its
baseline). Monitoring evaluates them on each report; this module only says whether a
list is well formed (policy ``clean()``).
"""

from __future__ import annotations

from typing import Any

from approvals.choices import IncidentSeverity

TRIGGER_METRICS = (
    "latency_p95_ms",
    "retry_rate",
    "disagreement_rate",
    "drift",
    "segment_quality",
)
TRIGGER_BOUNDS = ("max", "min", "max_increase", "max_drop")
TRIGGER_KEYS = frozenset({"name", "metric", "severity", "blocks_promotion", *TRIGGER_BOUNDS})


def rollback_triggers_problems(triggers: Any) -> list[str]:
    """What is wrong with a list of rollback triggers (empty when it is well formed)."""
    if not isinstance(triggers, list):
        return ["must be a list of triggers"]
    problems: list[str] = []
    names: set[str] = set()
    for index, trigger in enumerate(triggers, start=1):
        where = f"trigger {index}"
        if not isinstance(trigger, dict):
            problems.append(f"{where}: must be an object")
            continue
        name = trigger.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}: needs a name")
        elif name in names:
            problems.append(f"{where}: duplicate name {name!r}")
        else:
            names.add(name)
            where = f"trigger {name!r}"
        unknown = set(trigger) - TRIGGER_KEYS
        if unknown:
            problems.append(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        if trigger.get("metric") not in TRIGGER_METRICS:
            problems.append(f"{where}: metric must be one of {', '.join(TRIGGER_METRICS)}")
        if trigger.get("severity") not in IncidentSeverity.values:
            problems.append(
                f"{where}: severity must be one of {', '.join(IncidentSeverity.values)}"
            )
        if not isinstance(trigger.get("blocks_promotion"), bool):
            problems.append(f"{where}: blocks_promotion must be true or false")
        bounds = [b for b in TRIGGER_BOUNDS if b in trigger]
        if not bounds:
            problems.append(f"{where}: needs a bound ({', '.join(TRIGGER_BOUNDS)})")
        for bound in bounds:
            value = trigger[bound]
            if not isinstance(value, int | float) or isinstance(value, bool):
                problems.append(f"{where}: {bound} must be a number")
            elif bound in ("max_increase", "max_drop") and value < 0:
                problems.append(f"{where}: {bound} must be ≥ 0")
        if "max_drop" in trigger and trigger.get("metric") != "segment_quality":
            problems.append(f"{where}: max_drop applies to segment_quality only")
    return problems
