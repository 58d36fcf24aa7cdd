"""Governance policies: versioned data, editable in the admin, snapshotted into requests."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from approvals.choices import (
    ALWAYS_CRITICAL_CHECKS,
    ALWAYS_CRITICAL_RING_CHECKS,
    CHECK_NAMES,
    RING_CHECK_NAMES,
    ApproverRole,
    StepType,
)
from approvals.hygiene.rules import default_lifecycle_rules, lifecycle_rules_problems
from core.historical_records import GovernanceHistory
from registry.choices import RiskRating


class GovernancePolicy(models.Model):
    """A versioned rule set: the review runbook, which roles sign (with quorum), which checks
    run and which of them are critical, metric thresholds, and how long approval lasts.

    Policies are data, not code. Editing a policy in the admin bumps ``version`` (history
    keeps every earlier version); requests keep the id and a snapshot of the version they
    were judged under. A policy applies to versions whose risk rating is in
    ``risk_ratings`` and whose team is in ``team_slugs`` (an empty list matches all); the
    most specific active policy wins, the default policy when none matches.
    """

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    risk_ratings = models.JSONField(
        default=list,
        blank=True,
        help_text='Risk ratings this policy applies to, e.g. ["critical"].',
    )
    team_slugs = models.JSONField(
        default=list, blank=True, help_text="Team slugs this policy applies to (empty: all)."
    )
    required_roles = models.JSONField(
        help_text='Role → quorum, e.g. {"platform_lead": 1, "application_security": 2}.'
    )
    review_steps = models.JSONField(
        default=list,
        blank=True,
        help_text="The runbook: a list of {key, title, type, owner_role, sla_business_days}.",
    )
    checks = models.JSONField(
        default=dict,
        blank=True,
        help_text='Check name → {"critical": bool}. SBOM, provenance, checksum, dependency '
        "CVEs and eval freshness always run and are always critical.",
    )
    metric_thresholds = models.JSONField(
        default=dict,
        blank=True,
        help_text='Metric → {"min": x} or {"max": x}, e.g. {"accuracy": {"min": 0.9}}.',
    )
    approval_validity_days = models.PositiveIntegerField(default=90)
    retirement_grace_days = models.PositiveIntegerField(
        default=30, help_text="Days a deprecated version keeps serving before retirement."
    )
    lifecycle_rules = models.JSONField(
        default=default_lifecycle_rules,
        blank=True,
        help_text='Rule → {"action": notify | deprecate | deprecate_and_retire, ...}: '
        'stale (with "after_days"), unowned, vulnerable, expired (approvals.hygiene.rules).',
    )
    # Releases (issue 13). A policy reviews the change categories it lists; "routine" is
    # a release whose diff touches no category (the lighter policy).
    release_categories = models.JSONField(
        default=list,
        blank=True,
        help_text='Change categories of a release this policy reviews, e.g. ["threshold"]; '
        '"routine" for a release that touches none.',
    )
    ring_criteria = models.JSONField(
        default=dict,
        blank=True,
        help_text='Ring → entry criteria, e.g. {"general": {"min_days_in_previous": 7, '
        '"monitoring_within_thresholds": true, "no_open_incident": true}}.',
    )
    rollback_triggers = models.JSONField(
        default=list,
        blank=True,
        help_text='Evaluated on each monitoring report, e.g. [{"metric": "latency_p95_ms", '
        '"max": 250, "severity": "sev2", "blocks_promotion": true}].',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = GovernanceHistory()

    class Meta:
        ordering = ["name", "-version"]
        verbose_name_plural = "governance policies"
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="policy_unique_version"),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="policy_one_default"
            ),
            models.UniqueConstraint(
                fields=["name"], condition=Q(is_active=True), name="policy_one_active_per_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        roles = self.required_roles
        if not isinstance(roles, dict) or not roles:
            errors["required_roles"] = ["must map at least one role to a quorum"]
        else:
            for role, quorum in roles.items():
                if role not in ApproverRole.values:
                    errors.setdefault("required_roles", []).append(f"unknown role {role!r}")
                if not isinstance(quorum, int) or isinstance(quorum, bool) or quorum < 1:
                    errors.setdefault("required_roles", []).append(f"{role}: quorum must be ≥ 1")
        if not isinstance(self.risk_ratings, list) or not all(
            rating in RiskRating.values for rating in self.risk_ratings
        ):
            errors["risk_ratings"] = ["must be a list of risk ratings"]
        if not isinstance(self.team_slugs, list) or not all(
            isinstance(slug, str) for slug in self.team_slugs
        ):
            errors["team_slugs"] = ["must be a list of team slugs"]
        if not isinstance(self.checks, dict):
            errors["checks"] = ["must map check names to settings"]
        else:
            for name, config in self.checks.items():
                if name not in CHECK_NAMES and name not in RING_CHECK_NAMES:
                    errors.setdefault("checks", []).append(f"unknown check {name!r}")
                elif not isinstance(config, dict):
                    errors.setdefault("checks", []).append(f"{name}: settings must be an object")
                elif (
                    name in ALWAYS_CRITICAL_CHECKS or name in ALWAYS_CRITICAL_RING_CHECKS
                ) and config.get("critical") is False:
                    errors.setdefault("checks", []).append(
                        f"{name} is always critical; a policy cannot relax it"
                    )
        if not isinstance(self.metric_thresholds, dict) or not all(
            isinstance(rule, dict)
            and rule
            and set(rule) <= {"min", "max"}
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in rule.values())
            for rule in self.metric_thresholds.values()
        ):
            errors["metric_thresholds"] = ['each metric needs {"min": number} and/or {"max": ...}']
        if "metric_thresholds" not in errors:
            from approvals.evidence.evals import validate_thresholds

            try:
                validate_thresholds(self.metric_thresholds)
            except ValueError as exc:
                errors["metric_thresholds"] = [str(exc)]
        if not isinstance(self.review_steps, list):
            errors["review_steps"] = ["must be a list of steps"]
        else:
            keys = set()
            for step in self.review_steps:
                problem = _step_problem(step)
                if problem:
                    errors.setdefault("review_steps", []).append(problem)
                elif step["key"] in keys:
                    errors.setdefault("review_steps", []).append(f"duplicate key {step['key']}")
                else:
                    keys.add(step["key"])
        lifecycle_problems = lifecycle_rules_problems(self.lifecycle_rules)
        if lifecycle_problems:
            errors["lifecycle_rules"] = lifecycle_problems
        # Releases (issue 13): approvals.release_policy and approvals.rollback_triggers.
        from approvals.release_policy import release_categories_problems, ring_criteria_problems
        from approvals.rollback_triggers import rollback_triggers_problems

        for name, problems in (
            ("release_categories", release_categories_problems(self.release_categories)),
            ("ring_criteria", ring_criteria_problems(self.ring_criteria)),
            ("rollback_triggers", rollback_triggers_problems(self.rollback_triggers)),
        ):
            if problems:
                errors[name] = problems
        if errors:
            raise ValidationError(errors)

    def snapshot(self) -> dict:
        """Everything a request is judged by, frozen at submission."""
        return {
            "id": self.pk,
            "name": self.name,
            "version": self.version,
            "required_roles": self.required_roles,
            "review_steps": self.review_steps,
            "checks": self.checks,
            "metric_thresholds": self.metric_thresholds,
            "approval_validity_days": self.approval_validity_days,
            "retirement_grace_days": self.retirement_grace_days,
            "lifecycle_rules": self.lifecycle_rules,
            "release_categories": self.release_categories,
            "ring_criteria": self.ring_criteria,
            "rollback_triggers": self.rollback_triggers,
        }


def _step_problem(step: object) -> str | None:
    if not isinstance(step, dict):
        return "each step must be an object"
    for name in ("key", "title", "type", "owner_role", "sla_business_days"):
        if name not in step:
            return f"a step is missing {name!r}"
    if step["type"] not in StepType.values:
        return f"step {step['key']}: unknown type {step['type']!r}"
    if step["owner_role"] not in [*ApproverRole.values, "system"]:
        return f"step {step['key']}: unknown owner role {step['owner_role']!r}"
    sla = step["sla_business_days"]
    if not isinstance(sla, int) or isinstance(sla, bool) or sla < 0:
        return f"step {step['key']}: the SLA is a whole number of business days ≥ 0"
    return None
