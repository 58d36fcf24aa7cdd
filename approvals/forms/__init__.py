"""The governance policy editor: a real form instead of JSON textareas.

A policy's rule set is stored as JSON (``required_roles``, ``review_steps``, ``checks``,
``metric_thresholds``; see ``approvals.models.GovernancePolicy``). People edit it here as
rows: one per board role with its quorum, one per runbook step, one per automated check,
one per metric bound. ``PolicyEditor`` turns a policy into those rows and the rows back
into exactly the JSON the rest of the code reads (``approvals.checks``, ``approvals.sla``,
``approvals.evidence.evals``), so a policy opened and saved unchanged keeps identical data.

Each row is validated where the person typed it (an error next to the field); the model's
``clean()`` still runs in the service as the last word.

The editor lives here; its rows in ``policy`` (the scalar fields), ``board`` (roles and
review steps), ``gate`` (checks and metric thresholds) and ``rows`` (what they share).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

from approvals.checks import checks_for_policy
from approvals.choices import ApproverRole, CheckName
from approvals.forms.board import STEP_FIELDS, ReviewStepFormSet, RoleQuorumFormSet
from approvals.forms.gate import CheckFormSet, ThresholdFormSet
from approvals.forms.lifecycle import LifecycleRulesForm
from approvals.forms.policy import PolicyForm
from approvals.models import GovernancePolicy


def _limit_text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


class PolicyEditor:
    """The policy form and its four formsets, validated together.

    ``PolicyEditor(policy=...)`` shows an existing policy (``None`` for a new one);
    ``PolicyEditor(data=request.POST, policy=...)`` validates a submission. After
    ``is_valid()``, ``policy_data()`` is every policy field in its stored shape and
    ``changes()`` only those that differ from the policy being edited.
    """

    def __init__(self, *, data: Any = None, policy: GovernancePolicy | None = None) -> None:
        self.policy = policy
        source = policy or GovernancePolicy(required_roles={})
        self.source = source
        self.form = PolicyForm(data, policy=policy, initial=self._policy_initial(source))
        self.roles = RoleQuorumFormSet(
            data, prefix="roles", initial=self._roles_initial(source.required_roles or {})
        )
        self.steps = ReviewStepFormSet(
            data, prefix="steps", initial=self._steps_initial(source.review_steps or [])
        )
        self.checks = CheckFormSet(
            data, prefix="checks", initial=self._checks_initial(source.checks or {})
        )
        self.thresholds = ThresholdFormSet(
            data,
            prefix="thresholds",
            initial=self._thresholds_initial(source.metric_thresholds or {}),
        )
        self.lifecycle = LifecycleRulesForm(
            data,
            prefix="lifecycle",
            initial=LifecycleRulesForm.initial_for(source.lifecycle_rules),
        )
        self.non_form_errors: list[str] = []

    # --- showing a policy as rows ---------------------------------------------------

    @staticmethod
    def _policy_initial(policy: GovernancePolicy) -> dict[str, Any]:
        return {
            "name": policy.name,
            "description": policy.description,
            "is_active": policy.is_active,
            "is_default": policy.is_default,
            "risk_ratings": list(policy.risk_ratings or []),
            "team_slugs": ", ".join(policy.team_slugs or []),
            "approval_validity_days": policy.approval_validity_days,
            "retirement_grace_days": policy.retirement_grace_days,
        }

    @staticmethod
    def _roles_initial(required: dict[str, int]) -> list[dict[str, Any]]:
        return [
            {"role": role, "required": role in required, "quorum": required.get(role, 1)}
            for role in ApproverRole.values
        ]

    @staticmethod
    def _steps_initial(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = []
        for index, step in enumerate(steps, start=1):
            extra = {key: value for key, value in step.items() if key not in STEP_FIELDS}
            rows.append(
                {
                    "key": step.get("key", ""),
                    "title": step.get("title", ""),
                    "type": step.get("type", ""),
                    "owner_role": step.get("owner_role", ""),
                    "sla_business_days": step.get("sla_business_days", 0),
                    "questions": "\n".join(step.get("questions") or []),
                    "extra": json.dumps(extra, sort_keys=True) if extra else "",
                    "ORDER": index,
                }
            )
        return rows

    @staticmethod
    def _checks_initial(configured: dict[str, Any]) -> list[dict[str, Any]]:
        plan = dict(checks_for_policy({"checks": configured}))
        return [
            {"check_name": name, "run": name in plan, "critical": plan.get(name, False)}
            for name in CheckName.values
        ]

    @staticmethod
    def _thresholds_initial(thresholds: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {"metric": metric, "comparison": bound, "limit": _limit_text(limit)}
            for metric, bounds in thresholds.items()
            for bound, limit in bounds.items()
        ]

    # --- validating and reading the rows back ---------------------------------------

    def sections(self) -> list[tuple[str, Any]]:
        return [
            ("Required roles and quorums", self.roles),
            ("Review steps (the runbook, in order)", self.steps),
            ("Automated checks", self.checks),
            ("Metric thresholds", self.thresholds),
        ]

    def is_valid(self) -> bool:
        valid = self.form.is_valid()
        roles_valid = self.roles.is_valid()
        # A step's owner must be a role that signs; only known once the roles are valid.
        self.steps.allowed_owners = set(self.roles.required_roles()) if roles_valid else None
        steps_valid = self.steps.is_valid()
        checks_valid = self.checks.is_valid()
        thresholds_valid = self.thresholds.is_valid()
        lifecycle_valid = self.lifecycle.is_valid()
        return all(
            [valid, roles_valid, steps_valid, checks_valid, thresholds_valid, lifecycle_valid]
        )

    def policy_data(self) -> dict[str, Any]:
        """Every editable policy field in the shape the model stores."""
        data = dict(self.form.cleaned_data)
        data["required_roles"] = self.roles.required_roles()
        data["review_steps"] = self.steps.review_steps()
        data["checks"] = self._checks_json()
        data["metric_thresholds"] = self.thresholds.metric_thresholds()
        data["lifecycle_rules"] = self.lifecycle.lifecycle_rules(self.source.lifecycle_rules)
        return data

    def _checks_json(self) -> dict[str, dict[str, bool]]:
        plan = self.checks.plan()
        original = self.source.checks or {}
        if dict(checks_for_policy({"checks": original})) == dict(plan):
            return original  # the same checks, the same criticality: keep the stored form
        return {name: {"critical": critical} for name, critical in plan}

    def changes(self) -> dict[str, Any]:
        """The fields whose stored value the submission changes (all of them for a new one)."""
        data = self.policy_data()
        if self.policy is None:
            return data
        return {name: value for name, value in data.items() if getattr(self.policy, name) != value}

    def add_service_errors(self, message: str, errors: dict[str, Any]) -> None:
        """Show a refusal of the service (the model's ``clean()``) next to what it names."""
        sections = {
            "required_roles": self.roles,
            "review_steps": self.steps,
            "checks": self.checks,
            "metric_thresholds": self.thresholds,
        }
        if not errors:
            self.non_form_errors.append(message)
        for name, messages in errors.items():
            messages = messages if isinstance(messages, list) else [messages]
            if name in self.form.fields:
                for text in messages:
                    self.form.add_error(name, text)
            elif name in sections:
                sections[name]._non_form_errors = sections[name].error_class(
                    [*sections[name].non_form_errors(), *messages]
                )
            else:
                self.non_form_errors.extend(str(text) for text in messages)

    @property
    def media(self) -> forms.Media:
        return self.form.media
