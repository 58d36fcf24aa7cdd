"""Approvals admin: the review pages board members use, with sign-off through the service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from approvals import permissions as approval_permissions
from approvals import selectors, services
from approvals.choices import CheckName, RequestState
from approvals.forms import PolicyEditor
from approvals.models import (
    CheckException,
    CheckResult,
    DecisionRecord,
    GovernancePolicy,
    PromotionRequest,
    SignOff,
    TrustedSigningKey,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from core.admin_actions import (
    GovernanceHistoryAdmin,
    ServiceAction,
    ServiceActionAdminMixin,
    reason_form,
)
from core.errors import DomainError
from registry.admin import ModelVersionAdmin, RetireForm, can_manage_version, team_filter
from registry.choices import ApproverRole, VersionState
from sso import conf as sso_conf
from sso import reauth as sso_reauth


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
class TrustedSigningKeyAdmin(GovernanceHistoryAdmin):
    list_display = ["keyid", "scheme", "is_active", "description", "created_at"]
    list_filter = ["is_active", "scheme"]

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: history shows which key was trusted when


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "attempted_at", "status_code", "error", "duration_ms"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(GovernanceHistoryAdmin):
    list_display = ["name", "url", "events", "team_slugs", "is_active"]
    list_filter = ["is_active"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "endpoint", "verb", "event_id", "state", "attempts", "next_attempt_at"]
    list_filter = ["state", "endpoint"]
    list_select_related = ["endpoint"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [WebhookAttemptInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
    fields = ["run", "check_name", "passed", "critical", "detail", "evidence_sha256", "run_at"]
    readonly_fields = fields


class CheckExceptionInline(ReadOnlyInline):
    model = CheckException
    fields = ["check_name", "justification", "granted_by", "granted_at", "expires_at"]
    readonly_fields = fields


class DecisionRecordInline(ReadOnlyInline):
    model = DecisionRecord
    fields = ["statement_sha256", "keyid", "created_at", "envelope"]
    readonly_fields = fields


class SignOffInline(ReadOnlyInline):
    model = SignOff
    fields = ["role", "signer", "signed_at", "signed_checksum", "meaning", "reauth_method"]
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
        required=False,
        help_text="Re-enter your password: a sign-off needs fresh authentication.",
    )
    one_time_code = forms.CharField(
        max_length=6,
        required=False,
        help_text="Or a code from your authenticator app, if you have enrolled one.",
    )

    def __init__(
        self,
        *args: Any,
        roles: list[str],
        idp_authenticated: bool = False,
        reauth_url: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(ApproverRole.choices)
        self.fields["role"].choices = [(role, labels.get(role, role)) for role in roles]
        self.idp_authenticated = idp_authenticated
        if idp_authenticated:
            self.fields["password"].help_text = "Signed in again at your provider: sign now."
        elif reauth_url:
            self.fields["password"].help_text = format_html(
                'Your account signs in with single sign-on: <a href="{}">sign in again at '
                "{}</a> to sign (or enter a one-time code).",
                reauth_url,
                sso_conf.provider_name(),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        fresh = data.get("password") or data.get("one_time_code") or self.idp_authenticated
        if not fresh:
            self.add_error("password", forms.ValidationError("This field is required."))
        return data


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, max_length=2000)


class RequestChangesForm(forms.Form):
    reasons = forms.CharField(
        widget=forms.Textarea, max_length=4000, help_text="One reason per line, sent to CI."
    )


class ExpediteForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, max_length=2000)


class OverrideForm(forms.Form):
    check_name = forms.ChoiceField(choices=CheckName.choices)
    justification = forms.CharField(widget=forms.Textarea, max_length=4000, min_length=20)
    expires_at = forms.DateTimeField(help_text="When the exception lapses (UTC).")


def _is_manager(request: Any, obj: PromotionRequest) -> bool:
    team = obj.version.registered_model.team
    return _cached(
        request,
        ("manager", team.pk),
        lambda: approval_permissions.is_team_manager(request.user, team),
    )


def _cached(request: Any, key: tuple, compute: Any) -> Any:
    cache = request.__dict__.setdefault("_govboard_permission_cache", {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def _signing_roles(request: Any, obj: PromotionRequest) -> list[str]:
    """Roles the user may sign for on this request (cached for the page)."""
    team = obj.version.registered_model.team
    required = obj.policy_snapshot.get("required_roles", {})
    held = _cached(
        request,
        ("roles", team.pk),
        lambda: approval_permissions.signing_roles_on_team(request.user, team),
    )
    return [role for role in held if role in required]


class ReviewQueueFilter(admin.SimpleListFilter):
    """ "My queue": requests in review waiting for a role I hold (expedited, then due first)."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("mine", "Waiting for my sign-off")]

    def queryset(self, request, queryset):
        if self.value() == "mine":
            mine = selectors.review_queue_for(request.user).values("id")
            return queryset.filter(id__in=mine).order_by("-priority", "due_at", "created_at")
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue"), ("no", "On time")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(is_overdue=self.value() == "yes")
        return queryset


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ServiceActionAdminMixin, GovernanceHistoryAdmin):
    list_display = [
        "__str__",
        "model_version",
        "team_slug",
        "state",
        "priority",
        "due_at",
        "overdue",
        "signoff_count",
        "requested_by",
        "created_at",
    ]
    list_filter = [
        ReviewQueueFilter,
        OverdueFilter,
        "state",
        team_filter("version__registered_model__team"),
    ]
    list_select_related = ["version__registered_model__team", "requested_by"]
    search_fields = ["version__registered_model__name", "version__version"]
    readonly_fields = [
        "waiting_for",
        "version",
        "policy",
        "policy_snapshot",
        "state",
        "requested_by",
        "rollback_target",
        "rollback_plan",
        "reasons",
        "priority",
        "expedite_reason",
        "due_at",
        "checked_at",
        "checked_evidence",
        "created_at",
        "decided_at",
    ]
    inlines = [CheckResultInline, CheckExceptionInline, SignOffInline, DecisionRecordInline]
    ordering = ["-created_at"]
    service_actions = (
        ServiceAction(
            name="sign",
            label="Sign off",
            form_class=SignOffForm,
            form_kwargs=lambda request, obj: {
                "roles": _signing_roles(request, obj),
                "idp_authenticated": sso_reauth.fresh_idp_authentication(request) is not None,
                "reauth_url": sso_reauth.reauth_url(request),
            },
            run=lambda request, obj, data: services.signoff_record(
                actor=request.user,
                request=obj,
                role=data["role"],
                password=data["password"],
                meaning=data["meaning"],
                one_time_code=data.get("one_time_code") or None,
                # One IdP re-authentication serves one sign-off (consumed here).
                idp_authenticated_at=(
                    None
                    if data["password"] or data.get("one_time_code")
                    else sso_reauth.fresh_idp_authentication(request, consume=True)
                ),
            ),
            available=lambda request, obj: (
                obj.state == RequestState.IN_REVIEW and bool(_signing_roles(request, obj))
            ),
            success_message=selectors.signoff_outcome,
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
        ServiceAction(
            name="request-changes",
            label="Request changes",
            form_class=RequestChangesForm,
            run=lambda request, obj, data: services.promotion_request_request_changes(
                actor=request.user, request=obj, reasons=data["reasons"].splitlines()
            ),
            available=lambda request, obj: (
                obj.state == RequestState.IN_REVIEW and bool(_signing_roles(request, obj))
            ),
            success_message="The request is sent back to CI.",
        ),
        ServiceAction(
            name="override",
            label="Grant exception",
            form_class=OverrideForm,
            run=lambda request, obj, data: services.check_override(
                actor=request.user,
                request=obj,
                check_name=data["check_name"],
                justification=data["justification"],
                expires_at=data["expires_at"],
            ),
            available=lambda request, obj: (
                obj.state in (RequestState.IN_REVIEW, RequestState.CHANGES_REQUESTED)
                and _is_manager(request, obj)
            ),
            success_message=lambda exception: (
                "The exception is recorded. " + selectors.approval_outcome(exception.request_id)
            ),
        ),
        ServiceAction(
            name="expedite",
            label="Expedite",
            form_class=ExpediteForm,
            run=lambda request, obj, data: services.promotion_request_expedite(
                actor=request.user, request=obj, reason=data["reason"]
            ),
            available=lambda request, obj: (
                services.is_open(obj) and obj.priority == 0 and _is_manager(request, obj)
            ),
            success_message="The request is expedited.",
        ),
    )

    def get_queryset(self, request):
        # requests_visible_to annotates ``is_overdue`` (the overdue column and filter).
        return selectors.requests_visible_to(request.user).annotate(
            _signoff_count=Count("signoffs")
        )

    @admin.display(description="waiting for")
    def waiting_for(self, obj: PromotionRequest) -> str:
        """What still stands between this request and approval, on its own page."""
        if obj.state == RequestState.APPROVED:
            return "Nothing: approved."
        if obj.state not in (RequestState.IN_REVIEW, RequestState.CHANGES_REQUESTED):
            return f"Nothing: the request is {obj.state}."
        waiting = services.assess(obj).waiting_for
        return format_html_join(mark_safe("<br>"), "{}", ((item,) for item in waiting)) or "—"

    @admin.display(description="version")
    def model_version(self, obj: PromotionRequest) -> str:
        return f"{obj.version.registered_model.name}@{obj.version.version}"

    @admin.display(description="team", ordering="version__registered_model__team__slug")
    def team_slug(self, obj: PromotionRequest) -> str:
        return obj.version.registered_model.team.slug

    @admin.display(description="overdue", boolean=True)
    def overdue(self, obj: PromotionRequest) -> bool:
        return bool(getattr(obj, "is_overdue", False))

    @admin.display(description="sign-offs", ordering="_signoff_count")
    def signoff_count(self, obj: PromotionRequest) -> str:
        required = sum(obj.policy_snapshot.get("required_roles", {}).values())
        return f"{obj._signoff_count}/{required}"

    def has_add_permission(self, request):
        return False  # requests come from CI through the API (one code path)

    def has_delete_permission(self, request, obj=None):
        return False


# The version lifecycle buttons on the registry's version page: deprecating or retiring a
# version closes its open promotion request in the same transaction (the lifecycle
# services), which is why they are wired here and not in the registry.
ModelVersionAdmin.service_actions = (
    ServiceAction(
        name="deprecate",
        label="Deprecate",
        form_class=reason_form(),
        run=lambda request, obj, data: services.version_deprecate(
            actor=request.user, version=obj, reason=data["reason"]
        ),
        available=lambda request, obj: (
            obj.state in (VersionState.CANDIDATE, VersionState.APPROVED)
            and can_manage_version(request, obj)
        ),
        success_message="The version is deprecated.",
    ),
    ServiceAction(
        name="retire",
        label="Retire",
        form_class=RetireForm,
        run=lambda request, obj, data: services.version_retire(
            actor=request.user,
            version=obj,
            reason=data["reason"],
            end_deployments=data["end_deployments"],
        ),
        available=lambda request, obj: (
            obj.state == VersionState.DEPRECATED and can_manage_version(request, obj)
        ),
        success_message="The version is retired.",
    ),
)
