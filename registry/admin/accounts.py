"""Service accounts (CI identities) and their tokens: administrators only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from core.admin_actions import GovernanceHistoryAdmin, ServiceAction, ServiceActionAdminMixin
from core.errors import DomainError
from core.permissions import Verb, allowed
from registry import services
from registry.choices import TokenScope
from registry.models import ApiToken, ServiceAccount, Team


class IssueTokenForm(forms.Form):
    label = forms.CharField(max_length=100)
    scopes = forms.MultipleChoiceField(
        choices=TokenScope.choices, widget=forms.CheckboxSelectMultiple
    )
    valid_days = forms.IntegerField(min_value=1, max_value=365, initial=90)
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(),
        required=False,
        help_text="Limit the token to some of the account's teams (none selected: all of them).",
    )

    def __init__(self, *args: Any, account: ServiceAccount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["teams"].queryset = account.teams.all()


@admin.register(ServiceAccount)
class ServiceAccountAdmin(ServiceActionAdminMixin, GovernanceHistoryAdmin):
    list_display = ["name", "is_active", "created_at"]
    search_fields = ["name"]
    filter_horizontal = ["teams"]
    readonly_fields = ["user", "created_at"]
    service_actions = (
        ServiceAction(
            name="issue_token",
            label="Issue token",
            form_class=IssueTokenForm,
            form_kwargs=lambda request, obj: {"account": obj},
            run=lambda request, obj, data: _issue_token(request, obj, data),
            available=lambda request, obj: allowed(request.user, Verb.MANAGE_ACCOUNTS),
            success_message="Token issued. Copy it now: it is never stored or shown again.",
        ),
    )

    def has_module_permission(self, request):
        return allowed(request.user, Verb.MANAGE_ACCOUNTS)

    def has_view_permission(self, request, obj=None):
        return allowed(request.user, Verb.MANAGE_ACCOUNTS)

    def has_add_permission(self, request):
        return allowed(request.user, Verb.MANAGE_ACCOUNTS)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        # The name is the account user's name (sa-<name>): fixed once created.
        return [*self.readonly_fields, "name"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        """A change goes through the audited service (creation has its own page)."""
        services.service_account_update(
            actor=request.user,
            account=obj,
            teams=list(form.cleaned_data["teams"]),
            description=form.cleaned_data["description"],
            is_active=form.cleaned_data["is_active"],
        )

    def save_related(self, request, form, formsets, change):
        """The service has set the teams; nothing else is related."""

    def add_view(self, request, form_url="", extra_context=None):
        """Create through the service (its own user, audit event), never ``save_model``."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CreateServiceAccountForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                account = services.service_account_create(
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    teams=list(form.cleaned_data["teams"]),
                    description=form.cleaned_data["description"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request, "Service account created. Issue it a token below.", messages.SUCCESS
                )
                return HttpResponseRedirect(
                    reverse("admin:registry_serviceaccount_change", args=[account.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Add service account",
            "form": form,
            "action": {"label": "Create service account"},
            "original": None,
        }
        return TemplateResponse(request, "admin/govboard/service_action.html", context)


class CreateServiceAccountForm(forms.Form):
    name = forms.SlugField(max_length=100, help_text="e.g. ci-assistants")
    teams = forms.ModelMultipleChoiceField(queryset=Team.objects.all())
    description = forms.CharField(widget=forms.Textarea, required=False)


def _issue_token(request: Any, account: ServiceAccount, data: dict[str, Any]) -> None:
    _, raw = services.api_token_issue(
        actor=request.user,
        service_account=account,
        label=data["label"],
        scopes=data["scopes"],
        expires_at=timezone.now() + timedelta(days=data["valid_days"]),
        teams=list(data["teams"]),
    )
    messages.warning(request, f"New token for {account.name}: {raw}")


@admin.register(ApiToken)
class ApiTokenAdmin(GovernanceHistoryAdmin):
    list_display = [
        "prefix",
        "service_account",
        "label",
        "scopes",
        "team_ids",
        "expires_at",
        "revoked_at",
    ]
    list_select_related = ["service_account"]
    readonly_fields = [
        "service_account",
        "label",
        "prefix",
        "scopes",
        "team_ids",
        "created_at",
        "expires_at",
        "revoked_at",
    ]
    exclude = ["token_hash"]
    actions = ["revoke_tokens"]

    def has_module_permission(self, request):
        return allowed(request.user, Verb.MANAGE_ACCOUNTS)

    def has_view_permission(self, request, obj=None):
        return allowed(request.user, Verb.MANAGE_ACCOUNTS)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected tokens now")
    def revoke_tokens(self, request, queryset):
        for token in queryset:
            try:
                services.api_token_revoke(actor=request.user, token=token)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return
        self.message_user(request, "Revoked.", messages.SUCCESS)
