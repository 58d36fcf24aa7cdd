"""The scorecard page's window picker: the last 30, 90 or 365 days, or two dates (both
included), and optionally one team. Bad input is a form error and no scorecard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms

from approvals.scorecard_window import DEFAULT_DAYS, PRESET_DAYS, date_window, preset_window
from core.errors import InvalidInput

CUSTOM = "custom"
ALL_TEAMS = ""


class ScorecardWindowForm(forms.Form):
    period = forms.ChoiceField(
        choices=[(str(days), f"Last {days} days") for days in PRESET_DAYS]
        + [(CUSTOM, "Custom dates")],
        initial=str(DEFAULT_DAYS),
        required=False,
    )
    window_start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    window_end = forms.DateField(
        required=False,
        label="To (included)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    team = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, teams: list[Any], now: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = now
        self.fields["team"].choices = [(ALL_TEAMS, "All my teams")] + [
            (team.slug, team.name) for team in teams
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        period = data.get("period") or str(DEFAULT_DAYS)
        if period != CUSTOM:
            data["window"] = preset_window(int(period), self.now)
            return data
        first, last = data.get("window_start"), data.get("window_end")
        for name, value in (("window_start", first), ("window_end", last)):
            if value is None and name not in self.errors:
                self.add_error(name, "Give a date for a custom window.")
        if first is None or last is None:
            return data
        if first > last:
            self.add_error("window_start", "The first day must not be after the last day.")
            return data
        try:
            data["window"] = date_window(first, last)
        except InvalidInput as exc:
            self.add_error("window_end", exc.message)
        return data

    @property
    def team_slug(self) -> str | None:
        return self.cleaned_data.get("team") or None
