"""Approvals admin: the review pages board members use, with sign-off through the service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count
from simple_history.admin import SimpleHistoryAdmin

from approvals import selectors, services
from approvals.choices import RequestState
from approvals.models import CheckResult, GovernancePolicy, PromotionRequest, SignOff
from govboard.admin_actions import ServiceAction, ServiceActionAdminMixin
from registry import permissions
from registry.choices import ApproverRole


@admin.register(GovernancePolicy)
class GovernancePolicyAdmin(SimpleHistoryAdmin):
    list_display = ["name", "version", "is_default", "approval_validity_days", "created_at"]
    list_filter = ["is_default"]
    search_fields = ["name"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        # Whoever may open the request (the admin's queryset is restricted to the teams
        # they see) sees all of its evidence; board members hold no view_signoff grant.
        return True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CheckResultInline(ReadOnlyInline):
    model = CheckResult
    fields = ["check_name", "passed", "critical", "detail", "run_at"]
    readonly_fields = fields


class SignOffInline(ReadOnlyInline):
    model = SignOff
    fields = ["role", "signer", "signed_at", "signed_checksum", "meaning"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("signer")


class SignOffForm(forms.Form):
    role = forms.ChoiceField(choices=())
    meaning = forms.CharField(
        max_length=200,
        initial="Approved for production promotion",
        help_text="What your signature attests.",
    )
    password = forms.CharField(
        widget=forms.PasswordInput,
        help_text="Re-enter your password: a sign-off needs fresh authentication.",
    )

    def __init__(self, *args: Any, roles: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(ApproverRole.choices)
        self.fields["role"].choices = [(role, labels.get(role, role)) for role in roles]


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, max_length=2000)


def _signing_roles(request: Any, obj: PromotionRequest) -> list[str]:
    team = obj.version.registered_model.team
    required = obj.policy_snapshot.get("required_roles", {})
    return [role for role in permissions.signing_roles_for(request.user, team) if role in required]


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ServiceActionAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "__str__",
        "model_version",
        "team_slug",
        "state",
        "signoff_count",
        "requested_by",
        "created_at",
    ]
    list_filter = ["state", "version__registered_model__team"]
    list_select_related = ["version__registered_model__team", "requested_by"]
    search_fields = ["version__registered_model__name", "version__version"]
    readonly_fields = [
        "version",
        "policy",
        "policy_snapshot",
        "state",
        "requested_by",
        "rollback_target",
        "rollback_plan",
        "reasons",
        "created_at",
        "decided_at",
    ]
    inlines = [CheckResultInline, SignOffInline]
    ordering = ["-created_at"]
    service_actions = (
        ServiceAction(
            name="sign",
            label="Sign off",
            form_class=SignOffForm,
            form_kwargs=lambda request, obj: {"roles": _signing_roles(request, obj)},
            run=lambda request, obj, data: services.signoff_record(
                actor=request.user,
                request=obj,
                role=data["role"],
                password=data["password"],
                meaning=data["meaning"],
            ),
            available=lambda request, obj: (
                obj.state == RequestState.IN_REVIEW and bool(_signing_roles(request, obj))
            ),
            success_message="Your sign-off is recorded.",
        ),
        ServiceAction(
            name="reject",
            label="Reject",
            form_class=RejectForm,
            run=lambda request, obj, data: services.promotion_request_reject(
                actor=request.user, request=obj, reason=data["reason"]
            ),
            available=lambda request, obj: (
                obj.state == RequestState.IN_REVIEW and bool(_signing_roles(request, obj))
            ),
            success_message="The request is rejected.",
        ),
    )

    def get_queryset(self, request):
        return selectors.requests_visible_to(request.user).annotate(
            _signoff_count=Count("signoffs")
        )

    @admin.display(description="version")
    def model_version(self, obj: PromotionRequest) -> str:
        return f"{obj.version.registered_model.name}@{obj.version.version}"

    @admin.display(description="team", ordering="version__registered_model__team__slug")
    def team_slug(self, obj: PromotionRequest) -> str:
        return obj.version.registered_model.team.slug

    @admin.display(description="sign-offs", ordering="_signoff_count")
    def signoff_count(self, obj: PromotionRequest) -> str:
        required = sum(obj.policy_snapshot.get("required_roles", {}).values())
        return f"{obj._signoff_count}/{required}"

    def has_add_permission(self, request):
        return False  # requests come from CI through the API (one code path)

    def has_delete_permission(self, request, obj=None):
        return False
