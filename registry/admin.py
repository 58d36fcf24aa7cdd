"""Registry admin: every list restricted to what the user may see; lifecycle via services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from core.admin_actions import (
    GovernanceHistoryAdmin,
    ServiceAction,
    ServiceActionAdminMixin,
    reason_form,
)
from core.errors import DomainError
from registry import permissions, services
from registry.choices import FindingStatus, Severity, TokenScope, VexJustification
from registry.models import (
    ApiToken,
    Dataset,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    ServiceAccount,
    Team,
    VersionDataset,
    VulnerabilityFinding,
)


def team_filter(lookup: str) -> type[admin.SimpleListFilter]:
    """A "team" filter offering only the teams the user may see (a plain related-field
    filter lists every team's slug to everyone), filtering on ``lookup``."""

    class TeamFilter(admin.SimpleListFilter):
        title = "team"
        parameter_name = "team"

        def lookups(self, request, model_admin):
            return [(team.slug, team.slug) for team in permissions.teams_visible_to(request.user)]

        def queryset(self, request, queryset):
            if self.value():
                return queryset.filter(**{f"{lookup}__slug": self.value()})
            return queryset

    return TeamFilter


class TeamScopedAdmin(GovernanceHistoryAdmin):
    """Admin whose changelist shows only the teams' rows the user may see."""

    team_lookup = "team"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset.filter(
            **{f"{self.team_lookup}__in": permissions.teams_visible_to(request.user)}
        )


class TeamRoleForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True, service_account__isnull=True)
    )
    role = forms.ChoiceField(
        choices=[(perm, perm.removeprefix("registry.")) for perm in permissions.TEAM_PERMISSIONS]
    )


def _team_role(grant: bool) -> Any:
    def run(request: Any, team: Team, data: dict[str, Any]) -> None:
        service = services.team_role_grant if grant else services.team_role_revoke
        service(actor=request.user, user=data["user"], permission=data["role"], team=team)

    return run


@admin.register(Team)
class TeamAdmin(ServiceActionAdminMixin, GovernanceHistoryAdmin):
    """Teams; their roles (who may sign, manage, register) change only through the audited
    grant/revoke buttons, never guardian's raw object-permission pages."""

    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    service_actions = (
        ServiceAction(
            name="grant_role",
            label="Grant role",
            form_class=TeamRoleForm,
            run=_team_role(grant=True),
            available=lambda request, obj: request.user.is_superuser,
            success_message="Role granted (recorded in the audit trail).",
        ),
        ServiceAction(
            name="revoke_role",
            label="Revoke role",
            form_class=TeamRoleForm,
            run=_team_role(grant=False),
            available=lambda request, obj: request.user.is_superuser,
            success_message="Role revoked (recorded in the audit trail).",
        ),
    )

    def get_queryset(self, request):
        return permissions.teams_visible_to(request.user)


@admin.register(RegisteredModel)
class RegisteredModelAdmin(TeamScopedAdmin):
    list_display = ["name", "team", "kind", "owner", "backup_owner", "escalation_contact"]
    list_filter = ["kind", team_filter("team")]
    list_select_related = ["team", "owner", "backup_owner"]
    search_fields = ["name", "team__slug", "owner__username"]
    raw_id_fields = ["owner", "backup_owner"]

    # Ownership changes go through registered_model_upsert (API PUT): audited, validated.
    readonly_fields = [
        "team",
        "name",
        "kind",
        "owner",
        "backup_owner",
        "escalation_contact",
        "description",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class VersionDatasetInline(admin.TabularInline):
    """Read-only: dataset links are attested metadata, written by CI through the service."""

    model = VersionDataset
    extra = 0
    can_delete = False
    fields = ["dataset_version", "use"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def can_manage_version(request: Any, version: ModelVersion) -> bool:
    return request.user.is_superuser or permissions.can_manage_team(
        request.user, version.registered_model.team
    )


class RetireForm(reason_form()):
    end_deployments = forms.BooleanField(
        required=False,
        label="Break-glass: end every deployment that still serves this version, now",
        help_text="Without this, retirement is refused while a deployment serves the version.",
    )


@admin.register(ModelVersion)
class ModelVersionAdmin(ServiceActionAdminMixin, TeamScopedAdmin):
    team_lookup = "registered_model__team"
    list_display = [
        "__str__",
        "model_name",
        "team_slug",
        "version",
        "state",
        "risk_rating",
        "registered_by",
        "created_at",
    ]
    list_filter = [
        "state",
        "registered_model__kind",
        "risk_rating",
        team_filter("registered_model__team"),
    ]
    list_select_related = ["registered_model__team", "registered_by"]
    search_fields = ["version", "checksum", "registered_model__name"]

    # Everything is read-only: a version's metadata is what CI registered and reviewers
    # signed; lifecycle changes are the buttons below (services, audited).
    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.concrete_fields]

    def has_change_permission(self, request, obj=None):
        return False

    inlines = [VersionDatasetInline]
    # Per model, highest semver precedence first (semver_key sorts as precedence).
    ordering = ["registered_model__team__slug", "registered_model__name", "-semver_key"]
    # The lifecycle buttons (deprecate, retire) are added by approvals/admin.py: they close
    # the version's open promotion request too, which the registry knows nothing of.
    service_actions: tuple[ServiceAction, ...] = ()

    @admin.display(description="model", ordering="registered_model__name")
    def model_name(self, obj: ModelVersion) -> str:
        return obj.registered_model.name

    @admin.display(description="team", ordering="registered_model__team__slug")
    def team_slug(self, obj: ModelVersion) -> str:
        return obj.registered_model.team.slug

    def has_add_permission(self, request):
        return False  # versions are registered by CI through the API (one code path)

    def has_delete_permission(self, request, obj=None):
        return False


def _sees_any_team(request) -> bool:
    if not hasattr(request, "_govboard_sees_any_team"):
        request._govboard_sees_any_team = permissions.teams_visible_to(request.user).exists()
    return request._govboard_sees_any_team


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
class VulnerabilityFindingAdmin(ServiceActionAdminMixin, admin.ModelAdmin):
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
    list_filter = ["severity", "status", "source_format"]
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
            available=lambda request, obj: permissions.can_triage_findings(
                request.user, obj.evidence.version.registered_model.team
            ),
            success_message="The triage is recorded; the next check run honours it.",
        ),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(
                evidence__version__registered_model__team__in=permissions.teams_visible_to(
                    request.user
                )
            )
        )

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.concrete_fields]

    # Whoever sees a team may open its findings (the queryset is restricted to those
    # teams): the security approvers who triage them hold team roles, not model
    # permissions. The navigation (on every admin page) asks only the model permission,
    # so this costs a query on the findings pages alone.
    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or _sees_any_team(request)

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


@admin.register(Dataset)
class DatasetAdmin(TeamScopedAdmin):
    list_display = ["name", "team"]
    list_filter = [team_filter("team")]
    list_select_related = ["team"]
    search_fields = ["name"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(TeamScopedAdmin):
    team_lookup = "dataset__team"
    list_display = ["dataset", "version", "window_start", "window_end"]
    list_select_related = ["dataset__team"]
    search_fields = ["dataset__name", "version"]


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
            available=lambda request, obj: request.user.is_superuser,
            success_message="Token issued. Copy it now: it is never stored or shown again.",
        ),
    )

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False

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
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

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
