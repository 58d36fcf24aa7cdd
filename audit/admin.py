from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only in the database as well."""

    list_display = ["id", "occurred_at", "verb", "actor_label", "object_type", "object_id"]
    # The log only grows: no DISTINCT-scanning filters or full counts on it; search instead.
    show_full_result_count = False
    search_fields = ["actor_label", "object_id", "verb"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def get_queryset(self, request):
        # Events of teams the user may not see stay hidden; team-less events (tokens,
        # accounts) are for administrators and global auditors only (``Verb.READ`` on
        # every team is what shows them: core.permissions.team_q).
        return super().get_queryset(request).visible_to(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
