"""Webhook endpoints and their deliveries (the outbox relay's record)."""

from __future__ import annotations

from django.contrib import admin

from approvals.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from audit.admin_audit import AuditedAdminMixin
from core.admin_actions import GovernanceHistoryAdmin


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "attempted_at", "status_code", "error", "duration_ms"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AuditedAdminMixin, GovernanceHistoryAdmin):
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
