"""Sign-in lockout: count failed passwords and one-time codes per account name and per
client address, refuse while locked, unlock (audited). See docs/adr/0008-lockout.md.

Every interface that checks a secret calls, in this order:

1. ``refuse_if_locked`` before the secret is checked (a locked account or address is refused
   even with the right secret, and an attacker learns nothing from a guess);
2. the check itself, outside any lock (password hashing is slow);
3. ``record_failure`` or ``record_success``, each its own short transaction that locks the
   counter rows. ``record_failure`` must not run inside the caller's transaction when the
   caller then raises (the failure would be rolled back with it): call it outside.

Counting happens under ``SELECT ... FOR UPDATE`` of the rows, so however many failures race,
exactly ``GOVBOARD_LOCKOUT_FAILURES`` are recorded before the lock; a failure that finds the
row already locked is refused and not counted (nothing to audit that the lockout did not
already say). The account key is the name as typed, case-folded, known or not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import record
from audit.verbs import AuditVerb
from core.errors import Conflict, InvalidInput, NotPermitted
from core.permissions import Verb, require
from identity.addresses import address_key
from identity.models import LockoutScope, LoginLockout

logger = logging.getLogger(__name__)

#: The one answer to a locked account or address: it says neither which nor whether the
#: account exists (an unknown name is counted and locked exactly like a known one).
LOCKOUT_MESSAGE = (
    "Too many failed sign-in attempts. Signing in is paused for this account or from this "
    "address: try again later, or ask an administrator to unlock it."
)

#: Audit verbs (past tense). A failed admin login and a failed sign-off re-authentication
#: count against the same account.
LOGIN_FAILED = AuditVerb.AUTH_LOGIN_FAILED
REAUTHENTICATION_FAILED = AuditVerb.AUTH_REAUTHENTICATION_FAILED
LOCKED_OUT = AuditVerb.AUTH_LOCKED_OUT
UNLOCKED = AuditVerb.AUTH_UNLOCKED

#: Where a secret was checked (recorded in the events).
VIA_ADMIN_LOGIN = "admin-login"
VIA_SIGN_OFF = "sign-off"

_MAX_NAME = 150


class LockedOut(NotPermitted):
    """Refused because the account or the address is locked (HTTP 403)."""

    code = "locked-out"
    title = "Locked out"

    def __init__(self) -> None:
        super().__init__(LOCKOUT_MESSAGE)


def account_key(username: str) -> str:
    """Case-folded, so "Alice" and "alice" share one counter (a case variant gains no
    fresh guesses)."""
    return (username or "").strip().casefold()[:255]


def _keys(username: str | None, address: str | None) -> list[tuple[str, str]]:
    keys = []
    if username is not None:
        keys.append((LockoutScope.ACCOUNT, account_key(username)))
    if (key := address_key(address)) is not None:
        keys.append((LockoutScope.ADDRESS, key))
    return sorted(keys)  # one lock order for every caller: no deadlock between them


def _matching(keys: list[tuple[str, str]]) -> Q:
    query = Q(pk__in=[])
    for scope, key in keys:
        query |= Q(scope=scope, key=key)
    return query


def _limit(scope: str) -> int:
    if scope == LockoutScope.ACCOUNT:
        return settings.GOVBOARD_LOCKOUT_FAILURES
    return settings.GOVBOARD_LOCKOUT_ADDRESS_FAILURES


def is_locked(*, username: str | None, address: str | None = None) -> bool:
    keys = _keys(username, address)
    if not keys:
        return False
    now = timezone.now()
    return (
        LoginLockout.objects.filter(_matching(keys), locked_at__isnull=False)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__gt=now))
        .exists()
    )


def refuse_if_locked(*, username: str | None, address: str | None = None) -> None:
    """Raise ``LockedOut`` while the account name or the address is locked."""
    if is_locked(username=username, address=address):
        logger.warning("Sign-in refused while locked out (address %s)", address)
        raise LockedOut


def _locked_rows(keys: list[tuple[str, str]], *, create: bool) -> list[LoginLockout]:
    if create:
        # Concurrent first failures both insert: one wins, the other's row is skipped and
        # it waits for (then locks) the winner's.
        LoginLockout.objects.bulk_create(
            [LoginLockout(scope=scope, key=key) for scope, key in keys], ignore_conflicts=True
        )
    return list(
        LoginLockout.objects.select_for_update().filter(_matching(keys)).order_by("scope", "key")
    )


def _lockout_end(now: datetime) -> datetime | None:
    seconds = settings.GOVBOARD_LOCKOUT_SECONDS
    return now + timedelta(seconds=seconds) if seconds else None


@dataclass(frozen=True)
class Failure:
    """What ``record_failure`` did."""

    counted: bool  # False: the account or address was already locked
    locked: bool  # the account or address is locked now


def record_failure(
    *,
    username: str,
    address: str | None,
    via: str,
    method: str = "password",
    actor: Any = None,
    account_exists: bool | None = None,
) -> Failure:
    """Count one failed password or one-time code, in its own transaction, and lock the
    account name or the address that reaches its limit. Audited: one event per counted
    failure (never the secret), one per lockout."""
    keys = _keys(username, address)
    now = timezone.now()
    window = timedelta(seconds=settings.GOVBOARD_LOCKOUT_WINDOW_SECONDS)
    with transaction.atomic():
        rows = _locked_rows(keys, create=True)
        if any(row.is_locked(now) for row in rows):
            return Failure(counted=False, locked=True)
        newly_locked = []
        for row in rows:
            if (
                row.window_started_at is None
                or now - row.window_started_at >= window
                or row.locked_at is not None  # a lockout that has run out starts afresh
            ):
                row.failures = 0
                row.window_started_at = now
                row.locked_at = row.locked_until = None
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= _limit(row.scope):
                row.locked_at = now
                row.locked_until = _lockout_end(now)
                newly_locked.append(row)
            row.save()
        by_scope = {row.scope: row for row in rows}
        account = by_scope[LockoutScope.ACCOUNT]
        counts = {
            "failures": account.failures,
            "address_failures": (
                by_scope[LockoutScope.ADDRESS].failures
                if LockoutScope.ADDRESS in by_scope
                else None
            ),
        }
        common = {"username": username[:_MAX_NAME], "address": address, "via": via}
        record(
            actor=actor,
            actor_label=None if actor is not None else "anonymous",
            verb=LOGIN_FAILED if via == VIA_ADMIN_LOGIN else REAUTHENTICATION_FAILED,
            target=account,
            data={**common, "method": method, "account_exists": account_exists, **counts},
        )
        for row in newly_locked:
            record(
                actor=actor,
                actor_label=None if actor is not None else "anonymous",
                verb=LOCKED_OUT,
                target=row,
                data={
                    **common,
                    "scope": row.scope,
                    "key": row.key,
                    "failures": row.failures,
                    "locked_until": row.locked_until.isoformat() if row.locked_until else None,
                },
            )
    return Failure(counted=True, locked=bool(newly_locked))


def record_success(*, username: str, address: str | None) -> None:
    """The secret was right: refuse anyway if a racing failure locked the account or the
    address meanwhile; otherwise the account name's failures start again from 0 (the
    address's do not: one good account must not reset a spraying address)."""
    keys = _keys(username, address)
    now = timezone.now()
    with transaction.atomic():
        rows = _locked_rows(keys, create=False)
        if any(row.is_locked(now) for row in rows):
            raise LockedOut
        for row in rows:
            if row.scope == LockoutScope.ACCOUNT and row.failures:
                row.failures = 0
                row.window_started_at = None
                row.save(update_fields=["failures", "window_started_at"])


@transaction.atomic
def lockout_unlock(
    *, actor: Any, lockout: LoginLockout | int, reason: str, via: str | None = None
) -> LoginLockout:
    """Clear an account's or an address's failures and lockout. ``actor=None`` is the
    operator at the command line (``manage.py unlock_login``; ``via`` names it)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the lockout is lifted.")
    if actor is not None:
        require(actor, Verb.UNLOCK_LOGIN, refusal="You may not unlock sign-in lockouts.")
    pk = lockout.pk if isinstance(lockout, LoginLockout) else lockout
    row = LoginLockout.objects.select_for_update().filter(pk=pk).first()
    if row is None:
        raise InvalidInput("No such lockout.")
    now = timezone.now()
    was_locked = row.is_locked(now)
    if not was_locked and not row.failures:
        raise Conflict(f"{row} is not locked and has no failures to clear.")
    before = {
        "failures": row.failures,
        "locked": was_locked,
        "locked_until": row.locked_until.isoformat() if row.locked_until else None,
    }
    row.failures = 0
    row.window_started_at = row.locked_at = row.locked_until = None
    row.save()
    record(
        actor=actor,
        actor_label=None if actor is not None else (via or "system"),
        verb=UNLOCKED,
        target=row,
        data={
            "scope": row.scope,
            "key": row.key,
            "reason": reason,
            "before": before,
            "after": {"failures": 0, "locked": False, "locked_until": None},
        },
    )
    return row


def lockout_for(*, scope: str, key: str) -> LoginLockout | None:
    """The row for an account name (as typed) or an address, if any failure was counted."""
    if scope == LockoutScope.ACCOUNT:
        key = account_key(key)
    elif scope == LockoutScope.ADDRESS:
        key = address_key(key) or key
    return LoginLockout.objects.filter(scope=scope, key=key).first()
