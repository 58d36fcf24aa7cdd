"""Releases in the admin: read-only (CI creates them), with their diff and a Withdraw button
(``govboard.admin`` adds "Open incident", which needs the approvals app).

The changelist searches by exact name, name prefix (``name__startswith`` on the
(team, name, semver_key) index) or exact "name version"; nothing counts the table
(``UncountedPaginator``). The change page prefetches what the release fixes (components,
ring entries) and slices in SQL what grows (the newest ring requests, monitoring reports and
incidents): a fixed number of queries whatever the release's history.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q

from core.admin_actions import ServiceAction, ServiceActionAdminMixin, reason_form
from core.admin_scoping import TeamScopedAdminMixin, sees_any_team, team_filter
from core.pagination import UncountedPaginator
from core.permissions import Verb, allowed
from registry.choices import ReleaseState
from registry.model_card import LATEST
from registry.models import Release
from registry.release_diff import release_diff
from registry.services.releases import release_withdraw

#: The changelist filter "releases pinning this version" (the model card's "more" link).
PINS_VERSION = "components__model_version__id__exact"


def _withdraw(request: Any, release: Release, data: dict[str, Any]) -> Release:
    return release_withdraw(request.user, release=release, reason=data["reason"])


@admin.register(Release)
class ReleaseAdmin(ServiceActionAdminMixin, TeamScopedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "version", "team", "state", "categories", "created_at")
    list_filter = (team_filter("team"), "state")
    list_select_related = ("team",)
    # What the columns print (not the manifest, triggers or texts of every row).
    list_only = ("name", "version", "state", "change_categories", "created_at", "team__slug")
    search_fields = ("name",)
    show_full_result_count = False
    paginator = UncountedPaginator
    change_form_template = "admin/registry/release/change_form.html"
    service_actions = (
        ServiceAction(
            name="withdraw",
            label="Withdraw",
            form_class=reason_form("Why is the release withdrawn?"),
            run=_withdraw,
            available=lambda request, release: (
                release.state == ReleaseState.SUBMITTED
                and allowed(request.user, Verb.REGISTER, release.team)
            ),
            success_message="Release withdrawn.",
            refusal="Only a submitted release of your team can be withdrawn.",
        ),
    )

    @admin.display(description="categories")
    def categories(self, release: Release) -> str:
        return ", ".join(c.get("category", "") for c in release.change_categories or [])

    def lookup_allowed(self, lookup: str, value: Any, request: Any = None) -> bool:
        # The model card links here for every release pinning one version.
        if lookup == PINS_VERSION:
            return True
        return super().lookup_allowed(lookup, value, request)

    def get_search_results(self, request: Any, queryset: Any, search_term: str) -> Any:
        term = search_term.strip()
        if not term:
            return queryset, False
        name, _, version = term.partition(" ")
        if version:
            return queryset.filter(name=name, version=version.strip()), False
        return queryset.filter(Q(name=term) | Q(name__startswith=term)), False

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        # Team scoping (``get_queryset``) decides which releases; any team member may look.
        return super().has_view_permission(request, obj) or sees_any_team(request)

    def has_module_permission(self, request: Any) -> bool:
        return super().has_module_permission(request) or sees_any_team(request)

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def change_view(self, request: Any, object_id: str, form_url: str = "", extra_context=None):
        extra_context = dict(extra_context or {})
        release = (
            self.get_queryset(request)
            .select_related("team", "previous_release", "rollback_owner", "created_by")
            .prefetch_related(
                # Fixed by the release (immutable once submitted) and by the rings: bounded.
                "components__model_version__registered_model",
                "components__dataset_version__dataset",
                "components__evaluation",
                "ring_entries",
            )
            .filter(pk=object_id)
            .first()
        )
        if release is not None:
            extra_context["release"] = release
            extra_context["diff"] = release_diff(release)
            # These grow for as long as the release serves: the newest few, sliced in SQL
            # (the (release, window_end, id) index serves the reports, the foreign keys the rest).
            extra_context["latest_ring_requests"] = list(
                release.ring_requests.select_related("release").order_by("-id")[:LATEST]
            )
            extra_context["latest_reports"] = list(
                release.monitoring_reports.order_by("-window_end", "-id")[:LATEST]
            )
            extra_context["latest_incidents"] = list(
                release.incidents.order_by("-opened_at", "-id")[:LATEST]
            )
        return super().change_view(request, object_id, form_url, extra_context)
