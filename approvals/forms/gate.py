"""The automated gate as rows: one per check (run or not, critical or not), one per metric
bound."""

from __future__ import annotations

import math
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from approvals.choices import ALWAYS_CRITICAL_CHECKS, CheckName
from approvals.evidence.evals import validate_thresholds
from approvals.forms.rows import kept_forms, rows_have_errors

BOUND_CHOICES = [("min", "at least (≥)"), ("max", "at most (≤)")]
_INTEGER = re.compile(r"\A[+-]?\d+\Z")


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
        return kept_forms(self)

    def clean(self) -> None:
        if rows_have_errors(self):
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
