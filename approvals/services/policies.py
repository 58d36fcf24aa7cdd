"""Which policy judges a version, and publishing a new policy version."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from approvals.models import GovernancePolicy
from audit.services import record
from audit.verbs import AuditVerb
from core.errors import Conflict, InvalidInput
from core.permissions import Verb, require
from registry.models import ModelVersion

POLICY_FIELDS = (
    "description",
    "risk_ratings",
    "team_slugs",
    "required_roles",
    "review_steps",
    "checks",
    "metric_thresholds",
    "approval_validity_days",
    "retirement_grace_days",
    "lifecycle_rules",
    "release_categories",
    "ring_criteria",
    "rollback_triggers",
)


def default_policy() -> GovernancePolicy:
    policy = GovernancePolicy.objects.filter(is_default=True).first()
    if policy is None:
        raise Conflict("No default governance policy is configured.")
    return policy


def applies_to_team(policy: GovernancePolicy, team_slug: str) -> bool:
    """A policy's team filter: it names no team (all), or this one."""
    return not policy.team_slugs or team_slug in policy.team_slugs


def policy_for_version(version: ModelVersion) -> GovernancePolicy:
    """The most specific active policy for the version's team and risk rating.

    Specificity: team and risk both named > team only > risk only; the default policy when
    nothing matches. Ties go to the lowest id (oldest), so the choice is deterministic.
    """
    team_slug = version.registered_model.team.slug
    best: tuple[int, int] | None = None
    chosen = None
    for policy in GovernancePolicy.objects.filter(is_active=True).order_by("id"):
        if policy.release_categories:
            continue  # a release review policy judges ring requests only (release_policy)
        if not applies_to_team(policy, team_slug):
            continue
        if policy.risk_ratings and version.risk_rating not in policy.risk_ratings:
            continue
        score = 2 * bool(policy.team_slugs) + bool(policy.risk_ratings)
        if score == 0 and not policy.is_default:
            continue
        if best is None or (score, -policy.pk) > best:
            best, chosen = (score, -policy.pk), policy
    return chosen or default_policy()


@transaction.atomic
def policy_publish(
    *, actor: Any, policy: GovernancePolicy, changes: dict[str, Any]
) -> GovernancePolicy:
    """Save edited policy data as the next version of the same policy row (history keeps
    the earlier version; requests keep their snapshots). ``Verb.PUBLISH_POLICY``."""
    require(actor, Verb.PUBLISH_POLICY)
    locked = GovernancePolicy.objects.select_for_update().get(pk=policy.pk)
    before = locked.snapshot()
    unknown = set(changes) - set(POLICY_FIELDS) - {"is_active", "is_default", "name"}
    if unknown:
        raise InvalidInput(f"Unknown policy fields: {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.version = (
        GovernancePolicy.objects.filter(name=locked.name)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
        or 0
    ) + 1
    try:
        locked.full_clean()
    except ValidationError as exc:
        raise InvalidInput("The policy is invalid.", errors=exc.message_dict) from exc
    locked.save()
    record(
        actor=actor,
        verb=AuditVerb.POLICY_PUBLISHED,
        target=locked,
        data={"before": before, "after": locked.snapshot()},
    )
    return locked


@transaction.atomic
def policy_create(*, actor: Any, policy: GovernancePolicy) -> GovernancePolicy:
    """Create a new policy (version 1 of its name), validated and audited."""
    require(actor, Verb.CREATE_POLICY)
    if GovernancePolicy.objects.filter(name=policy.name).exists():
        raise Conflict(f"A policy named {policy.name!r} exists: edit it to publish a new version.")
    policy.version = 1
    try:
        policy.full_clean()
    except ValidationError as exc:
        raise InvalidInput("The policy is invalid.", errors=exc.message_dict) from exc
    policy.save()
    record(
        actor=actor,
        verb=AuditVerb.POLICY_CREATED,
        target=policy,
        data={"before": None, "after": policy.snapshot()},
    )
    return policy
