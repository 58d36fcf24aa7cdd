"""Where versions served: read-only (CI records and ends deployments through the API's
services; the row history shows every change)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from core.admin_scoping import TeamScopedAdmin, team_filter
from registry.models import Deployment


class ServingFilter(admin.SimpleListFilter):
    title = "serving"
    parameter_name = "serving"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("now", "Serving now"), ("ended", "Ended")]

    def queryset(self, request: Any, queryset: Any) -> Any:
        if self.value() == "now":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "ended":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(Deployment)
class DeploymentAdmin(TeamScopedAdmin):
    list_display = [
        "version",
        "environment",
        "ring",
        "customer_scope",
        "started_at",
        "ended_at",
        "recorded_by",
    ]
    list_filter = [ServingFilter, team_filter("version__registered_model__team")]
    list_select_related = ["version__registered_model", "recorded_by"]
    # What the columns print: each row's version decoded its JSON metadata for its name.
    list_only = (
        "environment",
        "ring",
        "customer_scope",
        "started_at",
        "ended_at",
        "version__version",
        "version__state",
        "version__registered_model__name",
        "recorded_by__username",
    )
    # Exact matches on what people look up (the environment is indexed with started_at).
    search_fields = ["=environment", "=customer_scope"]
    show_full_result_count = False
    ordering = ["-started_at", "-id"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.concrete_fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
