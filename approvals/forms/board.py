"""The board and its runbook as rows: one per board role with its quorum, one per review
step with its owner and SLA."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from approvals.choices import ApproverRole, StepType
from approvals.forms.rows import kept_forms, rows_have_errors

#: The owner of automated steps (webhooks): no person signs for it.
SYSTEM_OWNER = "system"
#: The keys of a stored review step that have their own form field.
STEP_FIELDS = ("key", "title", "type", "owner_role", "sla_business_days", "questions")


def _position(order: int | None) -> tuple[bool, int]:
    return (order is None, order or 0)


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
        rows = kept_forms(self)
        # Stable: rows without a position keep theirs, after the numbered ones.
        rows.sort(key=lambda form: _position(form.cleaned_data.get("ORDER")))
        return rows

    def clean(self) -> None:
        if rows_have_errors(self):
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
