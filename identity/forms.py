from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from identity.backends import LOCKED_OUT_FLAG
from identity.services import LOCKOUT_MESSAGE


class LockoutAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin login form, with the lockout's answer when the backend gave it."""

    def get_invalid_login_error(self):
        if getattr(self.request, LOCKED_OUT_FLAG, False):
            return ValidationError(LOCKOUT_MESSAGE, code="locked_out")
        return super().get_invalid_login_error()
