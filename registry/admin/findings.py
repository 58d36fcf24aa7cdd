"""Vulnerability findings read from scan reports, and their triage by security approvers."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from core.admin_actions import ServiceAction, ServiceActionAdminMixin
from core.admin_scoping import TeamScopedAdminMixin, sees_any_team, team_filter
from core.permissions import RULES, Verb, allowed
from registry import services
from registry.choices import FindingStatus, Severity, VexJustification
from registry.models import VulnerabilityFinding


class FindingTriageForm(forms.Form):
    status = forms.ChoiceField(choices=FindingStatus.choices)
    severity = forms.ChoiceField(
        choices=[("", "— (not affected)")]
        + [(v, label) for v, label in Severity.choices if v != Severity.UNKNOWN],
        required=False,
        help_text="The severity this vulnerability has for this version (open or fixed).",
    )
    justification = forms.ChoiceField(
        choices=[("", "— (affected)"), *VexJustification.choices],
        required=False,
        help_text="Why it does not affect the version (required for not affected).",
    )
    note = forms.CharField(
        widget=forms.Textarea, max_length=5000, help_text="The advisory read and the reasoning."
    )


@admin.register(VulnerabilityFinding)
class VulnerabilityFindingAdmin(ServiceActionAdminMixin, TeamScopedAdminMixin, admin.ModelAdmin):
    """Findings read from dependency scans. An open finding of unknown severity blocks
    promotion until a security approver triages it here (audited, append-only)."""

    list_display = [
        "vulnerability_id",
        "package",
        "installed_version",
        "severity",
        "status",
        "fixed_version",
        "version_label",
    ]
    list_filter = [
        "severity",
        "status",
        "source_format",
        team_filter("evidence__version__registered_model__team"),
    ]
    list_select_related = ["evidence__version__registered_model"]
    search_fields = ["=vulnerability_id", "=package"]
    show_full_result_count = False
    service_actions = (
        ServiceAction(
            name="triage",
            label="Triage",
            form_class=FindingTriageForm,
            run=lambda request, obj, data: services.finding_triage(
                actor=request.user,
                finding=obj,
                status=data["status"],
                severity=data["severity"],
                justification=data["justification"],
                note=data["note"],
            ),
            available=lambda request, obj: allowed(request.user, Verb.TRIAGE, obj),
            success_message="The triage is recorded; the next check run honours it.",
            refusal=RULES[Verb.TRIAGE].refusal,
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.concrete_fields]

    # Whoever sees a team may open its findings (the queryset is restricted to those
    # teams): the security approvers who triage them hold team roles, not model
    # permissions. The navigation (on every admin page) asks only the model permission,
    # so this costs a query on the findings pages alone.
    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or sees_any_team(request)

    def get_model_perms(self, request):
        # The navigation: the model permission only (no team query on every page).
        return {"view": super().has_view_permission(request)}

    @admin.display(description="version")
    def version_label(self, obj: VulnerabilityFinding) -> str:
        version = obj.evidence.version
        return f"{version.registered_model.name}@{version.version}"

    def has_add_permission(self, request):
        return False  # findings are read from uploaded scan reports

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
