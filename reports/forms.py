"""The small forms of the report pages: what a report covers and in which format, and
the moment and customer of "which version served customer C at time T"."""

from __future__ import annotations

from django import forms

from reports.exports import FORMATS


class ReportForm(forms.Form):
    model = forms.CharField(
        required=False, max_length=201, help_text="team/name, e.g. alpha/support-bot"
    )
    team = forms.CharField(required=False, max_length=100, help_text="a team's slug")
    customer = forms.CharField(required=False, max_length=200, help_text="a customer scope")
    start = forms.DateTimeField(
        label="From", required=False, help_text="ISO 8601 with a time zone (UTC if none)"
    )
    until = forms.DateTimeField(required=False, help_text="ISO 8601 with a time zone")
    format = forms.ChoiceField(choices=[(f, f.upper()) for f in FORMATS], initial="pdf")


class ServingForm(forms.Form):
    customer = forms.CharField(max_length=200)
    at = forms.DateTimeField(label="At", help_text="ISO 8601 with a time zone (UTC if none)")
