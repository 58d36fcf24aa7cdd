"""Break-glass accounts (who may still sign in with a password while SSO is on) and the
audit records of password and IdP sign-ins. Each is one transaction with its audit event."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.services import record
from audit.verbs import AuditVerb
from core.errors import InvalidInput
from identity.addresses import client_address
from sso.models import BreakGlassAccount, SsoIdentity
from sso.services.login import _require_administrator


@transaction.atomic
def break_glass_mark(*, actor: Any, user: Any, reason: str) -> BreakGlassAccount:
    """Let ``user`` sign in with a password while SSO is on (administrators only).

    Refused for service accounts and for SSO users (who have no usable password)."""
    _require_administrator(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why this account is a break-glass account and who holds it.")
    if hasattr(user, "service_account"):
        raise InvalidInput("A service account signs in with its token, never a password.")
    if SsoIdentity.objects.filter(user=user).exists():
        raise InvalidInput("An SSO user has no password: break-glass accounts are local ones.")
    if BreakGlassAccount.objects.filter(user=user).exists():
        raise InvalidInput(f"{user.get_username()} is already a break-glass account.")
    account = BreakGlassAccount.objects.create(user=user, reason=reason, marked_by=actor)
    record(
        actor=actor,
        verb=AuditVerb.SSO_BREAK_GLASS_MARKED,
        target=account,
        data={
            "user": user.get_username(),
            "reason": reason,
            "before": None,
            "after": {"user": user.get_username(), "reason": reason},
        },
    )
    return account


@transaction.atomic
def break_glass_unmark(*, actor: Any, account: BreakGlassAccount) -> None:
    """Take the break-glass mark away (administrators only)."""
    _require_administrator(actor)
    locked = BreakGlassAccount.objects.select_for_update().select_related("user").get(pk=account.pk)
    record(
        actor=actor,
        verb=AuditVerb.SSO_BREAK_GLASS_UNMARKED,
        target=locked,
        data={
            "user": locked.user.get_username(),
            "reason": locked.reason,
            "before": {"user": locked.user.get_username(), "reason": locked.reason},
            "after": None,
        },
    )
    locked.delete()


@transaction.atomic
def break_glass_login_record(*, user: Any, request: Any, sso_on: bool) -> None:
    """Audit a password sign-in of a break-glass account."""
    account = BreakGlassAccount.objects.get(user=user)
    record(
        actor=user,
        verb=AuditVerb.AUTH_BREAK_GLASS_LOGIN,
        target=account,
        data={
            "user": user.get_username(),
            "address": client_address(request) or "",
            "path": getattr(request, "path", ""),
            "sso_enabled": sso_on,
        },
    )


@transaction.atomic
def password_login_refused_record(*, user: Any, request: Any) -> None:
    """Audit a correct password of an account that may not use it while SSO is on."""
    record(
        actor=user,
        verb=AuditVerb.AUTH_PASSWORD_LOGIN_REFUSED,
        target=user,
        data={
            "user": user.get_username(),
            "address": client_address(request) or "",
            "path": getattr(request, "path", ""),
            "reason": "single sign-on is on: password sign-in is for break-glass accounts",
        },
    )


@transaction.atomic
def idp_reauthentication_record(*, user: Any, identity: SsoIdentity, auth_time: Any) -> None:
    """Audit a verified, fresh re-authentication at the identity provider."""
    record(
        actor=user,
        verb=AuditVerb.AUTH_SSO_REAUTHENTICATED,
        target=identity,
        data={
            "user": user.get_username(),
            "subject": identity.subject,
            "auth_time": auth_time.isoformat(),
        },
    )
