"""Models, versions and datasets: read-only pages (CI registers through the API; lifecycle
buttons are services)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format

from audit.admin_audit import AuditedAdminMixin
from core.admin_actions import ServiceAction, ServiceActionAdminMixin, reason_form
from core.admin_scoping import TeamScopedAdmin, team_filter
from registry.approval_expiry import EXPIRY_WINDOWS, approval_expiry_q, version_expiry_text
from registry.choices import VersionState
from registry.models import (
    Dataset,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    VersionDataset,
)
from registry.selectors import ownership_q
from registry.version_search import version_search_results


class OwnershipFilter(admin.SimpleListFilter):
    """ "Mine": the models the person owns or backs up (My models' "all your models")."""

    title = "ownership"
    parameter_name = "mine"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Mine: owner or backup owner")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "yes":
            return queryset.filter(ownership_q(request.user))
        return queryset


@admin.register(RegisteredModel)
class RegisteredModelAdmin(TeamScopedAdmin):
    list_display = ["name", "team", "kind", "owner", "backup_owner", "escalation_contact"]
    list_filter = [OwnershipFilter, "kind", team_filter("team")]
    list_select_related = ["team", "owner", "backup_owner"]
    # Name by prefix (the varchar_pattern_ops name index), team and owner exactly.
    search_fields = ["^name", "team__slug", "owner__username"]
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
    # What an owner or reviewer reads: the dataset by name, its licence and time window.
    fields = ["use", "dataset", "dataset_version_label", "licence", "window"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("dataset_version__dataset")

    def has_view_permission(self, request, obj=None):
        # Whoever may open the version (its admin's queryset is limited to the teams they
        # see) reads what it was trained and evaluated on, as its model card shows.
        return True

    @admin.display(description="dataset")
    def dataset(self, obj: VersionDataset) -> str:
        return obj.dataset_version.dataset.name

    @admin.display(description="version")
    def dataset_version_label(self, obj: VersionDataset) -> str:
        return obj.dataset_version.version

    @admin.display(description="licence")
    def licence(self, obj: VersionDataset) -> str:
        return obj.dataset_version.license or "not stated"

    @admin.display(description="data from \u2013 until")
    def window(self, obj: VersionDataset) -> str:
        dataset_version = obj.dataset_version
        start, end = (
            date_format(timezone.localtime(moment), "DATETIME_FORMAT")
            for moment in (dataset_version.window_start, dataset_version.window_end)
        )
        return f"{start} \u2013 {end}"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RetireForm(reason_form()):
    end_deployments = forms.BooleanField(
        required=False,
        label="Break-glass: end every deployment that still serves this version, now",
        help_text="Without this, retirement is refused while a deployment serves the version.",
    )


class ApprovalExpiryFilter(admin.SimpleListFilter):
    """Versions by when their approval runs out (registry.approval_expiry's windows)."""

    title = "approval expiry"
    parameter_name = "expiry"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return list(EXPIRY_WINDOWS.items())

    def queryset(self, request: Any, queryset: Any) -> Any:
        if self.value() in EXPIRY_WINDOWS:
            return queryset.filter(approval_expiry_q(self.value(), now=timezone.now()))
        return queryset


def approval_expiry_label(version: ModelVersion, *, now: Any) -> str:
    """The expiry as a list shows it: the moment, and how far off it is."""
    text = version_expiry_text(version.state, version.approval_expires_at, now=now)
    if version.state != VersionState.APPROVED or version.approval_expires_at is None:
        return text
    moment = date_format(timezone.localtime(version.approval_expires_at), "DATETIME_FORMAT")
    return f"{moment} ({text})"


@admin.register(ModelVersion)
class ModelVersionAdmin(ServiceActionAdminMixin, TeamScopedAdmin):
    list_display = [
        "__str__",
        "model_name",
        "team_slug",
        "version",
        "state",
        "approval_expiry",
        "risk_rating",
        "registered_by",
        "created_at",
    ]
    list_filter = [
        "state",
        ApprovalExpiryFilter,
        "registered_model__kind",
        "risk_rating",
        team_filter("registered_model__team"),
    ]
    list_select_related = ["registered_model__team", "registered_by"]
    # The box is shown; registry.version_search says what a term finds (indexed only).
    search_fields = ["version"]

    # Everything is read-only: a version's metadata is what CI registered and reviewers
    # signed; lifecycle changes are the buttons below (services, audited).
    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.concrete_fields]

    def has_change_permission(self, request, obj=None):
        return False

    inlines = [VersionDatasetInline]
    # Newest first: the primary key's index serves it at any size (sorting by team and
    # model name joined every row first). One model's versions by precedence are on its
    # model card.
    ordering = ["-id"]

    def get_ordering(self, request):
        # One model's versions (``?registered_model__id__exact=``, the model card's link):
        # highest precedence first, as semver_key sorts.
        if request.GET.get("registered_model__id__exact"):
            return ["-semver_key", "-id"]
        return super().get_ordering(request)

    # The lifecycle buttons (deprecate, retire) are added by approvals/admin.py: they close
    # the version's open promotion request too, which the registry knows nothing of.
    service_actions: tuple[ServiceAction, ...] = ()
    # The page names the model card and, set by govboard/admin.py (the registry knows
    # nothing of promotion requests), what blocks the version: (request, version) ->
    # {"reasons": [...], "request_url": ..., "request_label": ...} or None.
    change_form_template = "admin/registry/modelversion/change_form.html"
    version_block: Callable[[HttpRequest, ModelVersion], dict[str, Any] | None] | None = None

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self.version_block is not None:
            context["version_block"] = self.version_block(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="approval expires", ordering="approval_expires_at")
    def approval_expiry(self, obj: ModelVersion) -> str:
        return approval_expiry_label(obj, now=timezone.now())

    @admin.display(description="model", ordering="registered_model__name")
    def model_name(self, obj: ModelVersion) -> str:
        return obj.registered_model.name

    @admin.display(description="team", ordering="registered_model__team__slug")
    def team_slug(self, obj: ModelVersion) -> str:
        return obj.registered_model.team.slug

    get_search_results = version_search_results()  # indexed lookups only

    def has_add_permission(self, request):
        return False  # versions are registered by CI through the API (one code path)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Dataset)
class DatasetAdmin(AuditedAdminMixin, TeamScopedAdmin):
    list_display = ["name", "team"]
    list_filter = [team_filter("team")]
    list_select_related = ["team"]
    search_fields = ["name"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(AuditedAdminMixin, TeamScopedAdmin):
    list_display = ["dataset", "version", "window_start", "window_end"]
    list_select_related = ["dataset__team"]
    search_fields = ["dataset__name", "version"]
