"""The governance policy editor: a real form instead of JSON textareas.

A policy's rule set is stored as JSON (``required_roles``, ``review_steps``, ``checks``,
``metric_thresholds``; see ``approvals.models.GovernancePolicy``). People edit it here as
rows: one per board role with its quorum, one per runbook step, one per automated check,
one per metric bound. ``PolicyEditor`` turns a policy into those rows and the rows back
into exactly the JSON the rest of the code reads (``approvals.checks``, ``approvals.sla``,
``approvals.evidence.evals``), so a policy opened and saved unchanged keeps identical data.

Each row is validated where the person typed it (an error next to the field); the model's
``clean()`` still runs in the service as the last word.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from approvals.checks import checks_for_policy
from approvals.choices import ALWAYS_CRITICAL_CHECKS, CheckName, StepType
from approvals.evidence.evals import validate_thresholds
from approvals.models import GovernancePolicy
from registry.choices import ApproverRole, RiskRating
from registry.validators import validate_slug_name

#: The owner of automated steps (webhooks): no person signs for it.
SYSTEM_OWNER = "system"
#: The keys of a stored review step that have their own form field.
STEP_FIELDS = ("key", "title", "type", "owner_role", "sla_business_days", "questions")
BOUND_CHOICES = [("min", "at least (≥)"), ("max", "at most (≤)")]
_INTEGER = re.compile(r"\A[+-]?\d+\Z")


def _live_forms(formset: forms.BaseFormSet) -> list[forms.Form]:
    """The rows of a formset that stay: not deleted, and not an untouched blank extra row."""
    return [
        form
        for index, form in enumerate(formset.forms)
        if (index < formset.initial_form_count() or form.has_changed())
        and not (formset.can_delete and formset._should_delete_form(form))
    ]


def _rows_have_errors(formset: forms.BaseFormSet) -> bool:
    return any(
        form.errors
        for form in formset.forms
        if not (formset.can_delete and formset._should_delete_form(form))
    )


def _position(order: int | None) -> tuple[bool, int]:
    return (order is None, order or 0)


class PolicyForm(forms.Form):
    """The policy's scalar fields: name, scope, lifetime."""

    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    is_active = forms.BooleanField(required=False, initial=True)
    is_default = forms.BooleanField(
        required=False, help_text="Judges every version no other active policy matches."
    )
    risk_ratings = forms.MultipleChoiceField(
        choices=RiskRating.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Risk ratings this policy applies to (none ticked: every rating).",
    )
    team_slugs = forms.CharField(
        required=False,
        help_text="Team slugs this policy applies to, separated by commas (empty: all teams).",
    )
    approval_validity_days = forms.IntegerField(
        min_value=1, initial=90, help_text="Days an approval lasts before re-certification."
    )
    retirement_grace_days = forms.IntegerField(
        min_value=0,
        initial=30,
        help_text="Days a deprecated version keeps serving before retirement.",
    )

    def __init__(self, *args: Any, policy: GovernancePolicy | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("This field is required.")
        others = GovernancePolicy.objects.filter(name=name)
        if self.policy is not None:
            if name == self.policy.name:
                return name
            others = others.exclude(pk=self.policy.pk)
        if others.exists():
            raise ValidationError(
                f"A policy named {name!r} exists: edit it to publish a new version."
            )
        return name

    def clean_team_slugs(self) -> list[str]:
        slugs = [part.strip() for part in self.cleaned_data["team_slugs"].split(",")]
        slugs = [slug for slug in slugs if slug]
        for slug in slugs:
            try:
                validate_slug_name(slug)
            except ValidationError as exc:
                raise ValidationError(f"{slug!r} is not a team slug. {exc.messages[0]}") from exc
        if len(set(slugs)) != len(slugs):
            raise ValidationError("A team is named twice.")
        return slugs

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("is_default") and not data.get("is_active", False):
            self.add_error("is_active", "The default policy must be active.")
        if data.get("is_default"):
            others = GovernancePolicy.objects.filter(is_default=True)
            if self.policy is not None:
                others = others.exclude(pk=self.policy.pk)
            current = others.first()
            if current is not None:
                self.add_error(
                    "is_default",
                    f"{current} is the default policy; untick it there first "
                    "(one default at a time).",
                )
        return data


class RoleQuorumForm(forms.Form):
    """One board role: required or not, and how many distinct people must sign for it."""

    role = forms.ChoiceField(
        choices=ApproverRole.choices,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "Unknown role %(value)s."},
    )
    required = forms.BooleanField(required=False)
    quorum = forms.IntegerField(required=False, initial=1)

    def role_label(self) -> str:
        role = self.initial.get("role") or self.data.get(self.add_prefix("role"), "")
        return dict(ApproverRole.choices).get(role, role)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("required"):
            quorum = data.get("quorum")
            if quorum is None:
                self.add_error("quorum", "A required role needs a quorum.")
            elif quorum < 1:
                self.add_error("quorum", "The quorum is at least 1 sign-off.")
        return data


class BaseRoleQuorumFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(form.errors for form in self.forms):
            return
        roles = [form.cleaned_data.get("role") for form in self.forms if form.cleaned_data]
        if len(set(roles)) != len(roles):
            raise ValidationError("A role is listed twice.")
        if not any(form.cleaned_data.get("required") for form in self.forms):
            raise ValidationError("Tick at least one role that must sign.")

    def required_roles(self) -> dict[str, int]:
        return {
            form.cleaned_data["role"]: form.cleaned_data["quorum"]
            for form in self.forms
            if form.cleaned_data.get("required")
        }


RoleQuorumFormSet = forms.formset_factory(
    RoleQuorumForm,
    formset=BaseRoleQuorumFormSet,
    extra=0,
    can_delete=False,
    max_num=len(ApproverRole.values),
    validate_max=True,
)


class ReviewStepForm(forms.Form):
    """One runbook step; steps run one after another, each with its SLA."""

    title = forms.CharField(max_length=200, label="Step")
    key = forms.CharField(
        max_length=50,
        required=False,
        help_text="Stable identifier (blank: made from the step's name).",
    )
    type = forms.ChoiceField(choices=StepType.choices)
    owner_role = forms.ChoiceField(
        choices=[*ApproverRole.choices, (SYSTEM_OWNER, "System (automated)")],
        label="Owner",
        error_messages={"invalid_choice": "Unknown role %(value)s."},
    )
    sla_business_days = forms.IntegerField(min_value=0, initial=1, label="SLA (business days)")
    questions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
        required=False,
        help_text="Questionnaire steps: one question per line.",
    )
    # Keys of a stored step this form has no field for, carried through unchanged.
    extra = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_key(self) -> str:
        key = self.cleaned_data["key"].strip()
        if key and not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            raise ValidationError("Use lowercase letters, digits and '_', starting with a letter.")
        return key

    def clean_questions(self) -> list[str]:
        return [
            line.strip() for line in self.cleaned_data["questions"].splitlines() if line.strip()
        ]

    def clean_extra(self) -> dict[str, Any]:
        raw = self.cleaned_data["extra"]
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ValidationError("The step's extra settings are not valid JSON.") from exc
        if not isinstance(value, dict) or set(value) & set(STEP_FIELDS):
            raise ValidationError("The step's extra settings are not valid.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("key") and data.get("title"):
            data["key"] = slugify(data["title"]).replace("-", "_")[:50].strip("_")
            if not re.fullmatch(r"[a-z][a-z0-9_]*", data["key"] or ""):
                self.add_error("key", "Name the step's key: its name gives none.")
        return data

    def step(self) -> dict[str, Any]:
        """The stored shape: {key, title, type, owner_role, sla_business_days[, questions]}."""
        data = self.cleaned_data
        step = {
            "key": data["key"],
            "title": data["title"],
            "type": data["type"],
            "owner_role": data["owner_role"],
            "sla_business_days": data["sla_business_days"],
        }
        if data["questions"]:
            step["questions"] = data["questions"]
        step.update(data["extra"])
        return step


class BaseReviewStepFormSet(forms.BaseFormSet):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_owners: set[str] | None = None  # set by PolicyEditor before validating

    def live_forms(self) -> list[ReviewStepForm]:
        """The rows that stay, in the order the person gave (deleted and blank rows out)."""
        rows = _live_forms(self)
        # Stable: rows without a position keep theirs, after the numbered ones.
        rows.sort(key=lambda form: _position(form.cleaned_data.get("ORDER")))
        return rows

    def clean(self) -> None:
        if _rows_have_errors(self):
            return
        seen: set[str] = set()
        for form in self.live_forms():
            key = form.cleaned_data["key"]
            if key in seen:
                form.add_error("key", f"Another step has the key {key!r}.")
            seen.add(key)
            owner = form.cleaned_data["owner_role"]
            if (
                self.allowed_owners is not None
                and owner != SYSTEM_OWNER
                and owner not in self.allowed_owners
            ):
                label = dict(ApproverRole.choices).get(owner, owner)
                form.add_error(
                    "owner_role",
                    f"{label} does not sign under this policy: tick it under required roles, "
                    "or give the step to a required role.",
                )

    def review_steps(self) -> list[dict[str, Any]]:
        return [form.step() for form in self.live_forms()]


ReviewStepFormSet = forms.formset_factory(
    ReviewStepForm, formset=BaseReviewStepFormSet, extra=1, can_delete=True, can_order=True
)


class CheckForm(forms.Form):
    """One automated check: whether the policy runs it and whether it is critical."""

    check_name = forms.ChoiceField(
        choices=CheckName.choices,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "Unknown check %(value)s."},
    )
    run = forms.BooleanField(required=False)
    critical = forms.BooleanField(
        required=False, help_text="Critical: a failure cannot be excepted by a manager."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.initial.get("check_name") in ALWAYS_CRITICAL_CHECKS:
            # Disabled fields take their initial value whatever is posted: always run,
            # always critical, as approvals.checks enforces anyway.
            for name in ("run", "critical"):
                self.fields[name].disabled = True
                self.initial[name] = True

    def check_label(self) -> str:
        return dict(CheckName.choices).get(self.initial.get("check_name"), "")

    def always_critical(self) -> bool:
        return self.initial.get("check_name") in ALWAYS_CRITICAL_CHECKS

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("check_name") != self.initial.get("check_name"):
            raise ValidationError("The check rows cannot be renamed.")
        if data.get("critical") and not data.get("run"):
            self.add_error("critical", "A check the policy does not run cannot be critical.")
        return data


class BaseCheckFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(form.errors for form in self.forms):
            return
        names = [form.cleaned_data.get("check_name") for form in self.forms]
        if sorted(names) != sorted(CheckName.values):
            raise ValidationError("Every check needs exactly one row.")

    def plan(self) -> list[tuple[str, bool]]:
        """(check, critical) for every check the rows run, in the order checks run."""
        rows = {form.cleaned_data["check_name"]: form.cleaned_data for form in self.forms}
        return [
            (name, bool(rows[name]["critical"]) or name in ALWAYS_CRITICAL_CHECKS)
            for name in CheckName.values
            if rows[name]["run"] or name in ALWAYS_CRITICAL_CHECKS
        ]


CheckFormSet = forms.formset_factory(
    CheckForm,
    formset=BaseCheckFormSet,
    extra=0,
    can_delete=False,
    max_num=len(CheckName.values),
    validate_max=True,
)


class NumberField(forms.Field):
    """A finite number kept as typed: "800" stays the integer 800, "0.85" the float 0.85."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> int | float | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if len(text) > 50:
            raise ValidationError("Enter a number, e.g. 0.85 or 800.", code="invalid")
        try:
            number: int | float = int(text) if _INTEGER.match(text) else float(text)
        except ValueError as exc:
            raise ValidationError("Enter a number, e.g. 0.85 or 800.", code="invalid") from exc
        if isinstance(number, float) and not math.isfinite(number):
            raise ValidationError("Enter a finite number.", code="invalid")
        return number


class ThresholdForm(forms.Form):
    """One bound on one metric. It applies to the overall metric and to every segment the
    eval package reports it for (``approvals.evidence.evals``): a bad slice cannot hide
    behind a good average, so there is no separate per-segment row."""

    metric = forms.CharField(max_length=64)
    comparison = forms.ChoiceField(choices=BOUND_CHOICES)
    limit = NumberField()

    def clean_metric(self) -> str:
        metric = self.cleaned_data["metric"].strip()
        try:
            validate_thresholds({metric: {"min": 0}})
        except ValueError as exc:
            raise ValidationError(
                "Use a letter, then letters, digits, '_', '.' or '-' (at most 64)."
            ) from exc
        return metric


class BaseThresholdFormSet(forms.BaseFormSet):
    def live_forms(self) -> list[ThresholdForm]:
        return _live_forms(self)

    def clean(self) -> None:
        if _rows_have_errors(self):
            return
        bounds: dict[str, dict[str, ThresholdForm]] = {}
        for form in self.live_forms():
            metric, bound = form.cleaned_data["metric"], form.cleaned_data["comparison"]
            if bound in bounds.get(metric, {}):
                form.add_error("comparison", f"{metric} already has an '{bound}' bound.")
                continue
            bounds.setdefault(metric, {})[bound] = form
        for metric, pair in bounds.items():
            if "min" in pair and "max" in pair:
                low = pair["min"].cleaned_data["limit"]
                high = pair["max"].cleaned_data["limit"]
                if low > high:
                    pair["max"].add_error(
                        "limit", f"{metric}: the upper limit is below the lower limit {low:g}."
                    )

    def metric_thresholds(self) -> dict[str, dict[str, int | float]]:
        """The stored shape: {metric: {"min": x, "max": y}} (either bound or both)."""
        thresholds: dict[str, dict[str, int | float]] = {}
        for form in self.live_forms():
            data = form.cleaned_data
            thresholds.setdefault(data["metric"], {})[data["comparison"]] = data["limit"]
        return thresholds


ThresholdFormSet = forms.formset_factory(
    ThresholdForm, formset=BaseThresholdFormSet, extra=2, can_delete=True
)


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
        return all([valid, roles_valid, steps_valid, checks_valid, thresholds_valid])

    def policy_data(self) -> dict[str, Any]:
        """Every editable policy field in the shape the model stores."""
        data = dict(self.form.cleaned_data)
        data["required_roles"] = self.roles.required_roles()
        data["review_steps"] = self.steps.review_steps()
        data["checks"] = self._checks_json()
        data["metric_thresholds"] = self.thresholds.metric_thresholds()
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
