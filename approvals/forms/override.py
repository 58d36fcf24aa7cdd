"""A manager's exception form: only the checks that can take one are offered; every other
check is listed with the reason it cannot, and the expiry is a date within the policy's
maximum."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from approvals import checks as check_rules
from approvals.assessment import latest_run_results
from approvals.choices import CheckName, RequestState
from approvals.models import CheckException, CheckResult, PromotionRequest

ALREADY_EXCEPTED = "an exception is already granted for this check run"
SENT_BACK_WITH_CRITICAL = (
    "the request was sent back for a failed critical check too: no exception can return it "
    "to review"
)


@dataclass(frozen=True)
class OverrideOptions:
    """The latest check run of a request, split by whether an exception may be granted."""

    overridable: list[CheckResult]
    refused: list[tuple[CheckResult, str]]  # (result, why it cannot be overridden)
    max_days: int


def override_options(request: PromotionRequest) -> OverrideOptions:
    """Which of the request's latest results may get an exception (two queries)."""
    snapshot = request.policy_snapshot
    latest = latest_run_results(list(CheckResult.objects.filter(request=request).order_by("id")))
    excepted = set(
        CheckException.objects.filter(check_result__in=[r.pk for r in latest]).values_list(
            "check_result_id", flat=True
        )
    )
    # A sent-back request returns to review only if exceptions can cover every failure
    # (approvals.services.overrides): one failed critical check and none can help.
    critical_failure = request.state == RequestState.CHANGES_REQUESTED and any(
        not r.passed and (r.critical or check_rules.is_critical(r.check_name, snapshot))
        for r in latest
    )
    overridable, refused = [], []
    for result in latest:
        reason = check_rules.override_refusal(
            result.check_name, passed=result.passed, critical=result.critical, snapshot=snapshot
        )
        if not reason and result.pk in excepted:
            reason = ALREADY_EXCEPTED
        if not reason and critical_failure:
            reason = SENT_BACK_WITH_CRITICAL
        if reason:
            refused.append((result, reason))
        else:
            overridable.append(result)
    return OverrideOptions(overridable, refused, check_rules.exception_max_days(snapshot))


def _label(name: str) -> str:
    return f"{name}: {dict(CheckName.choices).get(name, name)}"


class OverrideForm(forms.Form):
    check_name = forms.ChoiceField(label="Check to except", widget=forms.RadioSelect, choices=())
    justification = forms.CharField(widget=forms.Textarea, max_length=4000, min_length=20)
    expires_at = forms.DateField(label="Exception expires on")

    def __init__(self, *args: Any, options: OverrideOptions, today: date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()
        self.last_day = self.today + timedelta(days=options.max_days)
        self.fields["check_name"].choices = [
            (r.check_name, f"{_label(r.check_name)} (failed: {r.detail})"[:300])
            for r in options.overridable
        ]
        # Said up front, next to the choices: what cannot be excepted, and why.
        self.fields["check_name"].help_text = format_html(
            "Only failed, non-critical checks can be excepted. Not offered:{}",
            format_html(
                '<ul id="override-not-offered">{}</ul>',
                format_html_join(
                    "",
                    "<li><strong>{}</strong>: {}</li>",
                    ((_label(r.check_name), why) for r, why in options.refused),
                ),
            )
            if options.refused
            else " none.",
        )
        field = self.fields["expires_at"]
        field.widget = forms.DateInput(
            attrs={
                "type": "date",
                "min": (self.today + timedelta(days=1)).isoformat(),
                "max": self.last_day.isoformat(),
            },
            format="%Y-%m-%d",
        )
        zone = timezone.get_current_timezone_name()
        field.help_text = (
            f"The exception lapses at the start of that day ({zone}); "
            f"this policy allows at most {options.max_days} days, until "
            f"{self.last_day.isoformat()}."
        )

    def clean_expires_at(self) -> datetime:
        day = self.cleaned_data["expires_at"]
        if day <= self.today:
            raise forms.ValidationError("Choose a day after today.")
        if day > self.last_day:
            raise forms.ValidationError(
                f"This policy allows an exception until {self.last_day.isoformat()} at the latest."
            )
        return timezone.make_aware(datetime.combine(day, time.min))
