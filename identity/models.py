"""Failed sign-in counters and lockouts, one row per account name and per client address."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

UNLOCK_PERMISSION = "identity.unlock_loginlockout"


class LockoutScope(models.TextChoices):
    ACCOUNT = "account", "Account"
    ADDRESS = "address", "Client address"


class LoginLockout(models.Model):
    """How many sign-ins failed for one account name (or from one address) in the current
    window, and whether it is locked.

    A counter, so not append-only: every failure, lockout and unlock is also an
    ``audit.AuditEvent``, which is. The account key is the user name as typed, case-folded,
    whether or not such an account exists: an unknown name is counted and locked exactly
    like a known one, so the answer never tells which names exist. Rows are changed only
    by ``identity.services`` under a row lock.
    """

    scope = models.CharField(max_length=16, choices=LockoutScope.choices)
    key = models.CharField(
        max_length=255, help_text="The case-folded user name, or the address (IPv6: its /64)."
    )
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(
        null=True, blank=True, help_text="The first failure of the current window."
    )
    last_failure_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(
        null=True, blank=True, help_text="Empty while locked: until an administrator unlocks."
    )

    class Meta:
        ordering = ["scope", "key"]
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="identity_lockout_scope_key")
        ]
        permissions = [("unlock_loginlockout", "Can unlock a locked-out account or address")]
        verbose_name = "sign-in lockout"

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.key}"

    def is_locked(self, at: datetime | None = None) -> bool:
        if self.locked_at is None:
            return False
        return self.locked_until is None or self.locked_until > (at or timezone.now())

    is_locked.boolean = True  # type: ignore[attr-defined]
    is_locked.short_description = "locked"  # type: ignore[attr-defined]
