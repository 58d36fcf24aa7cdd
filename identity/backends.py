"""Django's ModelBackend behind the sign-in lockout (the admin login and every other
``django.contrib.auth.authenticate`` call)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from identity import services
from identity.addresses import client_address

#: Set on the request when the answer is the lockout, for the login form's message.
LOCKED_OUT_FLAG = "govboard_locked_out"


def _mark_locked_out(request) -> None:
    if request is not None:
        setattr(request, LOCKED_OUT_FLAG, True)


class LockoutModelBackend(ModelBackend):
    """Refuses a locked account name or address before the password is checked, counts
    each failure (known or unknown name alike) and re-checks the lock on success.

    Raising ``PermissionDenied`` stops ``authenticate()`` from asking the next backend.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        address = client_address(request)
        try:
            services.refuse_if_locked(username=username, address=address)
        except services.LockedOut:
            _mark_locked_out(request)
            raise PermissionDenied from None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            exists = user_model._default_manager.filter(
                **{user_model.USERNAME_FIELD: username}
            ).exists()
            failure = services.record_failure(
                username=username,
                address=address,
                via=services.VIA_ADMIN_LOGIN,
                account_exists=exists,
            )
            if failure.locked:
                _mark_locked_out(request)
                raise PermissionDenied
            return None
        try:
            services.record_success(username=username, address=address)
        except services.LockedOut:
            _mark_locked_out(request)
            raise PermissionDenied from None
        return user
