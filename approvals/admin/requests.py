"""The review pages board members use: sign-off, rejection, exceptions and expediting,
each through its service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from approvals import selectors, services
from approvals.admin import signing
from approvals.admin.dashboard_filters import DASHBOARD_FILTERS
from approvals.admin.request_list import (
    OverdueFilter,
    RequestChangeList,
    ReviewQueueFilter,
    required_signoffs,
    signoffs_given,
)
from approvals.admin.review import ReviewPageAdminMixin
from approvals.choices import ApproverRole, RequestState
from approvals.forms.override import OverrideForm, override_options
from approvals.models import (
    CheckException,
    CheckResult,
    DecisionRecord,
    PromotionRequest,
    SignOff,
)
from approvals.models.request_team import REQUEST_TEAM
from core.admin_actions import (
    GovernanceHistoryAdmin,
    ServiceAction,
    ServiceActionAdminMixin,
)
from core.admin_scoping import team_filter
from core.permissions import Verb, roles_held, verbs_on_team
from registry.version_search import version_search_results
from sso import conf as sso_conf
from sso import reauth as sso_reauth


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

    def get_changelist(self, request, **kwargs):
        return RequestChangeList

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


def _may(request: Any, obj: PromotionRequest, verb: Verb) -> bool:
    """Whether the user may do a manager's ``verb`` on the request (one query per team
    for the page)."""
    team = obj.version.registered_model.team
    return verb in _cached(
        request,
        ("verbs", team.pk),
        lambda: verbs_on_team(request.user, team, (Verb.OVERRIDE, Verb.EXPEDITE)),
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
        lambda: roles_held(request.user, team),
    )
    return [role for role in held if role in required]


def _override_options(request: Any, obj: PromotionRequest) -> Any:
    """The request's overridable and refused checks (cached for the page)."""
    return _cached(request, ("override", obj.pk), lambda: override_options(obj))


def _no_exception_possible(request: Any, obj: PromotionRequest) -> str:
    if not _may(request, obj, Verb.OVERRIDE):
        return "Only the team's governance managers may grant exceptions. Nothing was recorded."
    if obj.state not in (RequestState.IN_REVIEW, RequestState.CHANGES_REQUESTED):
        return f"{obj} is {obj.get_state_display().lower()}: it takes no exceptions."
    refused = "; ".join(
        f"{r.check_name}: {why}" for r, why in _override_options(request, obj).refused
    )
    return f"No check of {obj} can take an exception ({refused}). Nothing was recorded."


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ReviewPageAdminMixin, ServiceActionAdminMixin, GovernanceHistoryAdmin):
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
        team_filter(REQUEST_TEAM),
        *DASHBOARD_FILTERS,
    ]
    list_select_related = ["version__registered_model", REQUEST_TEAM, "requested_by"]
    search_fields = ["version__version"]  # registry.version_search: what a term finds
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
        # Moved only by the services' transitions (the stuck-checks sweep reads it).
        "state_changed_at",
    ]
    inlines = [CheckResultInline, CheckExceptionInline, SignOffInline, DecisionRecordInline]
    ordering = ["-id"]  # newest first on the pk index ("-created_at" sorted every request)
    service_actions = (
        ServiceAction(
            name="sign",
            label="Sign off",
            form_class=SignOffForm,
            form_kwargs=lambda request, obj: {
                "roles": signing.roles_to_sign(request, obj),
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
                obj.state == RequestState.IN_REVIEW and bool(signing.roles_to_sign(request, obj))
            ),
            success_message=selectors.signoff_outcome,
            refusal=signing.no_role_left,
            subject=signing.subject,
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
            refusal=signing.REVIEWERS_ONLY,
            subject=signing.subject,
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
            refusal=signing.REVIEWERS_ONLY,
            subject=signing.subject,
        ),
        ServiceAction(
            name="override",
            label="Grant exception",
            form_class=OverrideForm,
            form_kwargs=lambda request, obj: {"options": _override_options(request, obj)},
            run=lambda request, obj, data: services.check_override(
                actor=request.user,
                request=obj,
                check_name=data["check_name"],
                justification=data["justification"],
                expires_at=data["expires_at"],
            ),
            available=lambda request, obj: (
                obj.state in (RequestState.IN_REVIEW, RequestState.CHANGES_REQUESTED)
                and _may(request, obj, Verb.OVERRIDE)
                and bool(_override_options(request, obj).overridable)
            ),
            success_message=lambda exception: (
                "The exception is recorded. " + selectors.approval_outcome(exception.request_id)
            ),
            refusal=_no_exception_possible,
        ),
        ServiceAction(
            name="expedite",
            label="Expedite",
            form_class=ExpediteForm,
            run=lambda request, obj, data: services.promotion_request_expedite(
                actor=request.user, request=obj, reason=data["reason"]
            ),
            available=lambda request, obj: (
                services.is_open(obj) and obj.priority == 0 and _may(request, obj, Verb.EXPEDITE)
            ),
            success_message="The request is expedited.",
        ),
    )

    def get_changelist(self, request, **kwargs):
        return RequestChangeList

    def get_queryset(self, request):
        # requests_visible_to annotates ``is_overdue`` (the overdue column and filter). The
        # list counts the sign-offs of its page's rows only (RequestChangeList): a COUNT
        # annotation grouped every request before the LIMIT (issue 14: a 28 MB sort).
        return selectors.requests_visible_to(request.user)

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
        return str(obj.version)

    @admin.display(description="team", ordering=f"{REQUEST_TEAM}__slug")
    def team_slug(self, obj: PromotionRequest) -> str:
        return obj.team.slug

    @admin.display(description="overdue", boolean=True)
    def overdue(self, obj: PromotionRequest) -> bool:
        return bool(getattr(obj, "is_overdue", False))

    @admin.display(description="sign-offs")
    def signoff_count(self, obj: PromotionRequest) -> str:
        return f"{signoffs_given(obj)}/{required_signoffs(obj)}"

    get_search_results = version_search_results("version__")  # indexed lookups only

    def has_add_permission(self, request):
        return False  # requests come from CI through the API (one code path)

    def has_delete_permission(self, request, obj=None):
        return False
