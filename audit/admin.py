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
        # accounts) are for administrators and global auditors only.
        from registry.permissions import GLOBAL_VIEW_PERMISSION, teams_visible_to

        queryset = super().get_queryset(request)
        user = request.user
        if user.is_superuser or user.has_perm(GLOBAL_VIEW_PERMISSION):
            return queryset
        return queryset.filter(team_id__in=teams_visible_to(user).values("id"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
