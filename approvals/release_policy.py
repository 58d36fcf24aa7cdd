"""Which policy judges a release's ring request, and the shape of a policy's release fields.

A release's change categories (``Release.change_categories``, detected at submission: a
list of ``{"category", "why"}``) select the policies that review it: every active policy
whose ``release_categories`` meet them (``"routine"`` when the release touches none), among
those whose ``team_slugs`` admit the release's team. When the categories are spread over
several policies, the request is judged under the strictest (the largest total quorum)
and must gather the union of their roles, each at its largest quorum; its snapshot says
which policies and categories did so (``release_review``). No match: the default policy.
See docs/adr/0020-rings.md.
"""

from __future__ import annotations

from typing import Any

from approvals.models import GovernancePolicy
from approvals.services.policies import applies_to_team, default_policy
from registry.choices import ChangeCategory, Ring
from registry.models import Release

ROUTINE = "routine"
RELEASE_CATEGORIES = (*ChangeCategory.values, ROUTINE)
CRITERIA_KEYS = {
    "min_days_in_previous": "a whole number of days ≥ 0",
    "monitoring_within_thresholds": "true or false",
    "no_open_incident": "true or false",
    "required_roles": "an object of role → quorum ≥ 1",
}


def release_categories_problems(categories: Any) -> list[str]:
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        return ["must be a list of change categories"]
    problems = [
        f"unknown category {c!r} (one of {', '.join(RELEASE_CATEGORIES)})"
        for c in categories
        if c not in RELEASE_CATEGORIES
    ]
    if len(set(categories)) != len(categories):
        problems.append("a category is listed twice")
    return problems


def ring_criteria_problems(criteria: Any) -> list[str]:
    """What is wrong with ``ring → criteria`` (empty when it is well formed)."""
    from approvals.choices import ApproverRole

    if not isinstance(criteria, dict):
        return ["must map rings to entry criteria"]
    problems = []
    for ring, rules in criteria.items():
        if ring not in Ring.values:
            problems.append(f"unknown ring {ring!r} (one of {', '.join(Ring.values)})")
            continue
        if not isinstance(rules, dict):
            problems.append(f"{ring}: the criteria must be an object")
            continue
        for key, value in rules.items():
            if key not in CRITERIA_KEYS:
                problems.append(f"{ring}: unknown criterion {key!r}")
            elif key == "min_days_in_previous":
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    problems.append(f"{ring}: min_days_in_previous must be {CRITERIA_KEYS[key]}")
            elif key == "required_roles":
                if not isinstance(value, dict) or not all(
                    role in ApproverRole.values
                    and isinstance(q, int)
                    and not isinstance(q, bool)
                    and q >= 1
                    for role, q in value.items()
                ):
                    problems.append(f"{ring}: required_roles must be {CRITERIA_KEYS[key]}")
            elif not isinstance(value, bool):
                problems.append(f"{ring}: {key} must be {CRITERIA_KEYS[key]}")
    return problems


def release_category_names(release: Release) -> list[str]:
    """The release's detected categories, sorted; ``["routine"]`` when it touches none."""
    names = sorted(
        {
            str(entry.get("category"))
            for entry in release.change_categories or []
            if isinstance(entry, dict) and entry.get("category")
        }
    )
    return names or [ROUTINE]


def _total_quorum(policy: GovernancePolicy) -> int:
    return sum(int(q) for q in (policy.required_roles or {}).values())


def _union_roles(*role_maps: dict[str, int]) -> dict[str, int]:
    roles: dict[str, int] = {}
    for role_map in role_maps:
        for role, quorum in (role_map or {}).items():
            roles[role] = max(roles.get(role, 0), int(quorum))
    return dict(sorted(roles.items()))


def policy_for_release(
    release: Release, *, ring: str | None = None
) -> tuple[GovernancePolicy, dict[str, Any]]:
    """(policy, snapshot) for a ring request of ``release`` (see the module docstring).

    With ``ring``, the snapshot's ``required_roles`` also take that ring's own
    ``required_roles`` criterion (each policy's, at its largest quorum).
    """
    categories = release_category_names(release)
    team_slug = release.team.slug
    matched: list[tuple[GovernancePolicy, list[str]]] = []
    for policy in GovernancePolicy.objects.filter(is_active=True).order_by("id"):
        reviewed = sorted(set(policy.release_categories or []) & set(categories))
        if reviewed and applies_to_team(policy, team_slug):
            matched.append((policy, reviewed))
    if not matched:
        policy = default_policy()
        snapshot = policy.snapshot()
        snapshot["release_review"] = {"categories": categories, "policies": []}
        return policy, snapshot
    strictest = max(matched, key=lambda item: (_total_quorum(item[0]), -item[0].pk))[0]
    snapshot = strictest.snapshot()
    ring_roles = [
        ((p.ring_criteria or {}).get(ring) or {}).get("required_roles") or {}
        for p, _ in matched
        if ring
    ]
    snapshot["required_roles"] = _union_roles(*(p.required_roles for p, _ in matched), *ring_roles)
    snapshot["release_review"] = {
        "categories": categories,
        "why": [e for e in release.change_categories or [] if isinstance(e, dict)],
        "policies": [
            {"id": p.pk, "name": p.name, "version": p.version, "categories": reviewed}
            for p, reviewed in matched
        ],
        "judged_under": {"id": strictest.pk, "name": strictest.name},
    }
    return strictest, snapshot
