"""Sign-in lockouts in the admin: read-only rows, an audited Unlock button, and the admin
login form that gives the lockout's answer."""

from __future__ import annotations

from django.contrib import admin

from core.admin_actions import ServiceAction, ServiceActionAdminMixin, reason_form
from core.permissions import Verb, allowed
from identity import services
from identity.forms import LockoutAdminAuthenticationForm
from identity.models import LoginLockout

# The admin site is mounted as is (govboard/urls.py); only its login form changes.
admin.site.login_form = LockoutAdminAuthenticationForm


def _can_unlock(request, obj: LoginLockout) -> bool:
    return allowed(request.user, Verb.UNLOCK_LOGIN) and (obj.is_locked() or obj.failures > 0)


def _why_not_unlock(request, obj: LoginLockout) -> str:
    if not allowed(request.user, Verb.UNLOCK_LOGIN):
        return "You may not unlock sign-in lockouts."
    return "This account is not locked and has no failures to clear."


@admin.register(LoginLockout)
class LoginLockoutAdmin(ServiceActionAdminMixin, admin.ModelAdmin):
    list_display = [
        "scope",
        "key",
        "failures",
        "is_locked",
        "locked_at",
        "locked_until",
        "last_failure_at",
    ]
    list_filter = ["scope"]
    search_fields = ["key"]
    readonly_fields = [
        "scope",
        "key",
        "failures",
        "window_started_at",
        "last_failure_at",
        "locked_at",
        "locked_until",
    ]
    service_actions = (
        ServiceAction(
            name="unlock",
            label="Unlock",
            form_class=reason_form("Why is the lockout lifted?"),
            run=lambda request, obj, data: services.lockout_unlock(
                actor=request.user, lockout=obj, reason=data["reason"]
            ),
            available=_can_unlock,
            refusal=_why_not_unlock,
            success_message="Unlocked: the failures are cleared.",
        ),
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
