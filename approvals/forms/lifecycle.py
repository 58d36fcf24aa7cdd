"""The policy's lifecycle rules as form fields: one action per rule (and the stale rule's
days), turned back into the ``lifecycle_rules`` JSON ``approvals.hygiene.rules`` reads."""

from __future__ import annotations

from typing import Any

from django import forms

from approvals.hygiene.rules import ACTION_NAMES, LifecycleRule

OFF = ""
_ACTION_LABELS = {
    "notify": "Notify the owners and contact (change nothing)",
    "deprecate": "Deprecate (a person retires it)",
    "deprecate_and_retire": "Deprecate, then retire after the grace period",
}
_ACTIONS = [(name, _ACTION_LABELS[name]) for name in ACTION_NAMES]


class LifecycleRulesForm(forms.Form):
    """What the scheduler does about approved versions that break a rule. A rule left
    "off" is left out of the policy (expired cannot be off: only its action is chosen)."""

    # Present whenever the editor showed these fields: a submission without it (an older
    # client) keeps the policy's rules as they are.
    shown = forms.BooleanField(widget=forms.HiddenInput, required=False, initial=True)
    stale_action = forms.ChoiceField(
        label="Stale", choices=[(OFF, "Off"), *_ACTIONS], required=False
    )
    stale_after_days = forms.IntegerField(
        label="Stale after (days)",
        min_value=1,
        max_value=3650,
        required=False,
        help_text="No deployment serves it and nothing happened for this many days.",
    )
    unowned_action = forms.ChoiceField(
        label="Unowned",
        choices=[(OFF, "Off"), *_ACTIONS],
        required=False,
        help_text="Owner and backup owner both inactive, or mail to the escalation contact "
        "bounced.",
    )
    vulnerable_action = forms.ChoiceField(
        label="Vulnerable",
        choices=[(OFF, "Off"), *_ACTIONS],
        required=False,
        help_text="An open critical finding in a scan report uploaded after approval.",
    )
    expired_action = forms.ChoiceField(label="Approval expired", choices=_ACTIONS, required=False)

    @staticmethod
    def initial_for(rules: dict[str, Any]) -> dict[str, Any]:
        rules = rules if isinstance(rules, dict) else {}
        initial: dict[str, Any] = {"shown": True}
        for rule in LifecycleRule:
            config = rules.get(rule.value)
            initial[f"{rule.value}_action"] = config.get("action", OFF) if config else OFF
        initial["expired_action"] = initial["expired_action"] or "deprecate_and_retire"
        stale = rules.get(LifecycleRule.STALE.value) or {}
        initial["stale_after_days"] = stale.get("after_days", 180)
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("shown"):
            return data  # not shown: the policy's rules stay as they are
        if not data.get("expired_action"):
            self.add_error("expired_action", "Choose what an expired approval leads to.")
        if data.get("stale_action") and not data.get("stale_after_days"):
            self.add_error("stale_after_days", "Say after how many quiet days a version is stale.")
        return data

    def lifecycle_rules(self, current: dict[str, Any]) -> dict[str, Any]:
        """The rules as stored; ``current`` when the submission did not show the fields."""
        data = self.cleaned_data
        if not data.get("shown"):
            return current
        rules: dict[str, Any] = {}
        for rule in LifecycleRule:
            action = data.get(f"{rule.value}_action")
            if action:
                rules[rule.value] = {"action": action}
        if "stale" in rules:
            rules["stale"]["after_days"] = data["stale_after_days"]
        return rules
