"""The incident buttons' forms (admin): they only shape input; ``approvals.services.incidents``
validates and decides (its refusals become form errors, nothing changes)."""

from __future__ import annotations

from typing import Any

from django import forms

from approvals.choices import IncidentSeverity
from approvals.services.incidents import TITLE_MAX
from registry.models import ModelVersion, Release


def split_tags(text: str) -> list[str]:
    """Tags as typed: separated by commas or spaces (the service checks each is a slug)."""
    return [part for part in text.replace(",", " ").split() if part]


def split_lines(text: str) -> list[str]:
    """Contributing factors as typed: one per line, blank lines dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


class IncidentNoteForm(forms.Form):
    text = forms.CharField(label="Note", widget=forms.Textarea, max_length=10000)


class IncidentMitigateForm(forms.Form):
    text = forms.CharField(
        label="How was the harm contained?",
        widget=forms.Textarea,
        max_length=10000,
        required=False,
        help_text="E.g. rolled back to the previous release, feature flag off.",
    )


class IncidentResolveForm(forms.Form):
    retrospective = forms.CharField(
        label="Blameless retrospective",
        widget=forms.Textarea,
        max_length=50000,
        help_text="What happened, why it made sense at the time, what changes.",
    )
    contributing_factors = forms.CharField(
        label="Contributing factors",
        widget=forms.Textarea,
        max_length=20000,
        help_text="One per line.",
    )

    def clean_contributing_factors(self) -> list[str]:
        return split_lines(self.cleaned_data["contributing_factors"])


class IncidentEditForm(forms.Form):
    """What ``incident_update`` may change; unchanged fields are no change (no event)."""

    title = forms.CharField(max_length=TITLE_MAX)
    severity = forms.ChoiceField(choices=IncidentSeverity.choices)
    summary = forms.CharField(widget=forms.Textarea, max_length=20000, required=False)
    tags = forms.CharField(
        max_length=2000, required=False, help_text="Slugs, separated by commas or spaces."
    )
    contributing_factors = forms.CharField(
        widget=forms.Textarea, max_length=20000, required=False, help_text="One per line."
    )

    def clean_tags(self) -> list[str]:
        return split_tags(self.cleaned_data["tags"])

    def clean_contributing_factors(self) -> list[str]:
        return split_lines(self.cleaned_data["contributing_factors"])


class IncidentOpenForm(forms.Form):
    """A person opens an incident on a release (the release page's button)."""

    title = forms.CharField(max_length=TITLE_MAX)
    severity = forms.ChoiceField(choices=IncidentSeverity.choices)
    summary = forms.CharField(widget=forms.Textarea, max_length=20000, required=False)
    versions = forms.ModelMultipleChoiceField(
        queryset=ModelVersion.objects.none(),
        required=False,
        help_text="The release's versions involved (none: the release as a whole).",
    )
    tags = forms.CharField(
        max_length=2000, required=False, help_text="Slugs, separated by commas or spaces."
    )
    blocks_promotion = forms.BooleanField(
        required=False,
        initial=True,
        help_text="While open, the release cannot enter its next ring.",
    )

    def __init__(self, *args: Any, release: Release, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the release's own pinned versions can be named here.
        self.fields["versions"].queryset = ModelVersion.objects.filter(
            release_components__release=release
        ).select_related("registered_model")

    def clean_tags(self) -> list[str]:
        return split_tags(self.cleaned_data["tags"])
