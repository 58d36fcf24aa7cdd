"""The lifecycle preview page (``admin:lifecycle_preview``): what each lifecycle rule and
the retirement sweep would change now, and why; plus read-only lists of what the rules
did and of recorded contact bounces."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from approvals.hygiene.preview import PREVIEW_LIMIT, lifecycle_preview
from approvals.models import ContactBounce, LifecycleRuleFiring
from core.admin_scoping import TeamScopedAdminMixin


def lifecycle_preview_view(request: HttpRequest) -> HttpResponse:
    """The dry run for the rows the person may see; nothing is changed."""
    preview = lifecycle_preview(now=timezone.now(), user=request.user)
    context = {
        **admin.site.each_context(request),
        "title": "Lifecycle rules: what the next sweep would change",
        "preview": preview,
        "limit": PREVIEW_LIMIT,
    }
    return TemplateResponse(request, "admin/approvals/lifecycle_preview.html", context)


admin.site.register_page("lifecycle-preview/", lifecycle_preview_view, name="lifecycle_preview")


class _ReadOnly(admin.ModelAdmin):
    """Written by the sweeps and the mail relay through the services, never here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LifecycleRuleFiring)
class LifecycleRuleFiringAdmin(TeamScopedAdminMixin, _ReadOnly):
    list_display = ["fired_at", "rule", "action", "version", "reason", "via"]
    list_filter = ["rule", "action"]
    list_select_related = ["version__registered_model"]
    date_hierarchy = "fired_at"


@admin.register(ContactBounce)
class ContactBounceAdmin(_ReadOnly):
    list_display = ["address", "recorded_at", "detail", "cleared_at"]
    search_fields = ["address"]
