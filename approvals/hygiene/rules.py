"""The lifecycle rules a governance policy holds: which rules are on and what each does.

A policy's ``lifecycle_rules`` is data, validated like the rest of the policy::

    {
        "stale": {"action": "notify", "after_days": 180},
        "unowned": {"action": "notify"},
        "vulnerable": {"action": "deprecate"},
        "expired": {"action": "deprecate_and_retire"},
    }

A rule left out is off. Actions: ``notify`` tells the owner, backup owner and escalation
contact and changes nothing; ``deprecate`` deprecates the version (new usage blocked) and
leaves it deprecated until a person retires it; ``deprecate_and_retire`` deprecates it
and lets the retirement sweep retire it once the policy's grace period has passed (a
version a deployment still serves is escalated instead of retired). ``expired`` acts as
``deprecate_and_retire`` unless the policy says otherwise: that is what the scheduler did
before rules were configurable, and versions approved earlier keep that behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class LifecycleRule(StrEnum):
    STALE = "stale"
    UNOWNED = "unowned"
    VULNERABLE = "vulnerable"
    EXPIRED = "expired"


class LifecycleAction(StrEnum):
    NOTIFY = "notify"
    DEPRECATE = "deprecate"
    DEPRECATE_AND_RETIRE = "deprecate_and_retire"


#: What a policy created without saying otherwise holds (and what migration 0012 gave the
#: policies that existed before).
DEFAULT_LIFECYCLE_RULES: dict[str, dict[str, Any]] = {
    LifecycleRule.STALE: {"action": LifecycleAction.NOTIFY, "after_days": 180},
    LifecycleRule.UNOWNED: {"action": LifecycleAction.NOTIFY},
    LifecycleRule.VULNERABLE: {"action": LifecycleAction.DEPRECATE},
    LifecycleRule.EXPIRED: {"action": LifecycleAction.DEPRECATE_AND_RETIRE},
}

# The settings each rule takes besides ``action``, with the check each value must pass.
_SETTINGS: dict[str, dict[str, tuple[str, Any]]] = {
    LifecycleRule.STALE: {
        "after_days": (
            "a whole number of days from 1 to 3650",
            lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 3650,
        )
    },
    LifecycleRule.UNOWNED: {},
    LifecycleRule.VULNERABLE: {},
    LifecycleRule.EXPIRED: {},
}
_REQUIRED = {LifecycleRule.STALE: ("after_days",)}


RULE_NAMES = [rule.value for rule in LifecycleRule]
ACTION_NAMES = [action.value for action in LifecycleAction]


def default_lifecycle_rules() -> dict[str, dict[str, Any]]:
    """A fresh, JSON-plain copy of the defaults (a JSONField default must be a callable)."""
    return {
        str(rule): {name: str(v) if isinstance(v, StrEnum) else v for name, v in config.items()}
        for rule, config in DEFAULT_LIFECYCLE_RULES.items()
    }


def lifecycle_rules_problems(value: Any) -> list[str]:
    """Every reason ``value`` is not a valid ``lifecycle_rules`` document (empty: valid).

    Each message names the rule and the setting, so a policy editor sees what to fix.
    """
    if not isinstance(value, dict):
        return ["must map rule names (stale, unowned, vulnerable, expired) to settings"]
    problems = []
    for rule, config in value.items():
        if rule not in RULE_NAMES:
            problems.append(f"unknown rule {rule!r} (the rules are {', '.join(RULE_NAMES)})")
            continue
        if not isinstance(config, dict):
            problems.append(f"{rule}: settings must be an object with an action")
            continue
        action = config.get("action")
        if action not in ACTION_NAMES:
            problems.append(
                f"{rule}: action must be one of {', '.join(ACTION_NAMES)}, not {action!r}"
            )
        allowed = _SETTINGS[rule]
        for name in _REQUIRED.get(rule, ()):
            if name not in config:
                problems.append(f"{rule}: {name} is required ({allowed[name][0]})")
        for name, setting in config.items():
            if name == "action":
                continue
            if name not in allowed:
                problems.append(f"{rule}: unknown setting {name!r}")
            elif not allowed[name][1](setting):
                problems.append(f"{rule}: {name} must be {allowed[name][0]}, not {setting!r}")
    return problems


@dataclass(frozen=True)
class RuleConfig:
    """One rule of one policy, as the sweep reads it."""

    rule: LifecycleRule
    action: LifecycleAction
    after_days: int | None = None


_EXPIRED_DEFAULT = RuleConfig(
    rule=LifecycleRule.EXPIRED, action=LifecycleAction.DEPRECATE_AND_RETIRE
)


def configured_rules(value: Any) -> dict[LifecycleRule, RuleConfig]:
    """The rules that are on in a (validated) ``lifecycle_rules`` document.

    ``expired`` is always on (an approval that ran out must never go unnoticed; a policy
    chooses only its action). A document that fails validation (the services refuse to
    save one; only raw SQL could write it) turns every other rule off rather than guess.
    """
    rules = {LifecycleRule.EXPIRED: _EXPIRED_DEFAULT}
    if not isinstance(value, dict) or lifecycle_rules_problems(value):
        return rules
    for rule, config in value.items():
        rules[LifecycleRule(rule)] = RuleConfig(
            rule=LifecycleRule(rule),
            action=LifecycleAction(config["action"]),
            after_days=config.get("after_days"),
        )
    return rules
