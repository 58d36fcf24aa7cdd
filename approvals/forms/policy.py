"""The policy's scalar fields: name, scope, lifetime."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from approvals.models import GovernancePolicy
from registry.choices import RiskRating
from registry.validators import validate_slug_name


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
