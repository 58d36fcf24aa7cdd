"""Governance policies (edited in the policy editor, published through the services) and
the trusted signing keys."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from approvals import services
from approvals.forms import PolicyEditor
from approvals.models import GovernancePolicy, TrustedSigningKey
from audit.admin_audit import AuditedAdminMixin
from core.admin_actions import GovernanceHistoryAdmin
from core.errors import DomainError


@admin.register(GovernancePolicy)
class GovernancePolicyAdmin(GovernanceHistoryAdmin):
    """Policies are data: every save through the admin publishes the next version (the
    history keeps the earlier ones; requests keep their snapshots).

    Adding and editing use the policy editor (``approvals.forms.PolicyEditor``: roles and
    quorums, runbook steps, checks, thresholds as rows, never JSON) and save through the
    audited services. People who may only view get Django's read-only page.
    """

    list_display = [
        "name",
        "version",
        "is_default",
        "is_active",
        "risk_ratings",
        "team_slugs",
        "approval_validity_days",
        "created_at",
    ]
    list_filter = ["is_default", "is_active"]
    search_fields = ["name"]
    readonly_fields = ["version", "created_at"]
    editor_template = "admin/approvals/governancepolicy/policy_form.html"

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is None:
            if not self.has_add_permission(request):
                return super().changeform_view(request, object_id, form_url, extra_context)
            return self._editor_view(request, None)
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_change_permission(request, obj):
            # Missing objects, view-only users and refused POSTs: Django's own answers
            # (redirect with "does not exist", the read-only page, 403).
            return super().changeform_view(request, object_id, form_url, extra_context)
        return self._editor_view(request, obj)

    def _editor_view(self, request, obj: GovernancePolicy | None):
        editor = PolicyEditor(data=request.POST if request.method == "POST" else None, policy=obj)
        if request.method == "POST" and editor.is_valid():
            saved = self._save_policy(request, obj, editor)
            if saved is not None:
                return HttpResponseRedirect(
                    reverse("admin:approvals_governancepolicy_change", args=[saved.pk])
                )
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "app_label": opts.app_label,
            "original": obj,
            "title": f"Change policy {obj}" if obj else "Add governance policy",
            "editor": editor,
            "has_view_permission": True,
            "media": self.media + editor.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.editor_template, context)

    def _save_policy(self, request, obj: GovernancePolicy | None, editor: PolicyEditor):
        """Create or publish through the audited service; None (with errors) if refused."""
        try:
            if obj is None:
                saved = services.policy_create(
                    actor=request.user, policy=GovernancePolicy(**editor.policy_data())
                )
                self.message_user(request, f"Policy {saved} created.", messages.SUCCESS)
                return saved
            changes = editor.changes()
            if not changes:
                self.message_user(request, f"Nothing changed: {obj} stays as it is.", messages.INFO)
                return obj
            saved = services.policy_publish(actor=request.user, policy=obj, changes=changes)
        except DomainError as exc:
            editor.add_service_errors(exc.message, exc.errors)
            return None
        self.message_user(request, f"Published {saved}.", messages.SUCCESS)
        return saved

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TrustedSigningKey)
class TrustedSigningKeyAdmin(AuditedAdminMixin, GovernanceHistoryAdmin):
    list_display = ["keyid", "scheme", "is_active", "description", "created_at"]
    list_filter = ["is_active", "scheme"]

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: history shows which key was trusted when
