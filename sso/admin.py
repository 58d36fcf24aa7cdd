"""SSO admin, for administrators only: the IdP group → team role mappings (edited here, saved
through the audited services), break-glass accounts, and read-only pages of SSO identities
and of the roles the mapping granted."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from core.admin_actions import GovernanceHistoryAdmin
from core.errors import DomainError
from core.permissions import Verb, allowed
from sso import services
from sso.models import BreakGlassAccount, GroupRoleMapping, SsoIdentity, SsoRoleGrant


class AdministratorsOnly:
    """Who gets which role, and who may skip SSO, are administrators' decisions (as team
    role grants are: ``Verb.GRANT_ROLES`` in ``core.permissions``)."""

    def _administrator(self, request) -> bool:
        return allowed(request.user, Verb.GRANT_ROLES)

    def has_module_permission(self, request):
        return self._administrator(request)

    def has_view_permission(self, request, obj=None):
        return self._administrator(request)

    def has_add_permission(self, request):
        return self._administrator(request)

    def has_change_permission(self, request, obj=None):
        return self._administrator(request)

    def has_delete_permission(self, request, obj=None):
        return self._administrator(request)


class ReadOnly(AdministratorsOnly):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(GroupRoleMapping)
class GroupRoleMappingAdmin(AdministratorsOnly, GovernanceHistoryAdmin):
    """Each save or delete is audited and applied at once to the users whose latest SSO
    login listed the group; everyone else gets it at their next login."""

    list_display = ["idp_group", "team", "permission", "created_at"]
    list_filter = ["permission", "team"]
    search_fields = ["idp_group", "team__slug"]
    fields = ["idp_group", "team", "permission"]
    actions = None  # no bulk delete that would skip the service

    def save_model(self, request, obj, form, change):
        services.group_role_mapping_save(actor=request.user, mapping=obj)

    def delete_model(self, request, obj):
        services.group_role_mapping_delete(actor=request.user, mapping=obj)

    def delete_queryset(self, request, queryset):
        for mapping in queryset:
            services.group_role_mapping_delete(actor=request.user, mapping=mapping)


class BreakGlassForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(
            is_active=True,
            service_account__isnull=True,
            sso_identity__isnull=True,
            break_glass__isnull=True,
        )
    )
    reason = forms.CharField(max_length=500, help_text="Why it exists and who holds it.")


@admin.register(BreakGlassAccount)
class BreakGlassAccountAdmin(AdministratorsOnly, GovernanceHistoryAdmin):
    """Local accounts that may still sign in with a password while SSO is on."""

    list_display = ["user", "reason", "marked_by", "created_at"]
    readonly_fields = ["user", "reason", "marked_by", "created_at"]
    actions = None

    def has_change_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        """Mark through the service (checks and audit event), never ``save_model``."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BreakGlassForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.break_glass_mark(
                    actor=request.user,
                    user=form.cleaned_data["user"],
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, "Break-glass account marked.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:sso_breakglassaccount_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Mark a break-glass account",
            "form": form,
            "action": {"label": "Mark as break-glass"},
            "original": None,
        }
        return TemplateResponse(request, "admin/govboard/service_action.html", context)

    def delete_model(self, request, obj):
        services.break_glass_unmark(actor=request.user, account=obj)


@admin.register(SsoIdentity)
class SsoIdentityAdmin(ReadOnly, GovernanceHistoryAdmin):
    list_display = ["user", "issuer", "subject", "groups", "created_at"]
    search_fields = ["user__username", "subject"]
    readonly_fields = ["user", "issuer", "subject", "groups", "created_at"]


@admin.register(SsoRoleGrant)
class SsoRoleGrantAdmin(ReadOnly, GovernanceHistoryAdmin):
    """Which team roles the mapping gave (and will take away); other grants are manual."""

    list_display = ["user", "team", "permission", "idp_group", "granted_at"]
    list_filter = ["permission", "team"]
    search_fields = ["user__username", "idp_group"]
    readonly_fields = ["user", "team", "permission", "idp_group", "granted_at"]
