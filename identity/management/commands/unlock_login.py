"""Break-glass unlock from the command line (e.g. the only superuser locked themselves out)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from identity import services
from identity.models import LockoutScope


class Command(BaseCommand):
    help = "Lift the sign-in lockout of an account name or a client address (audited)."

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--account", help="The user name, as typed at the login.")
        target.add_argument("--address", help="The client address (IPv6: any in its /64).")
        parser.add_argument("--reason", required=True, help="Why the lockout is lifted.")

    def handle(self, *args, account=None, address=None, reason="", **options):
        scope = LockoutScope.ACCOUNT if account is not None else LockoutScope.ADDRESS
        row = services.lockout_for(scope=scope, key=account if account is not None else address)
        if row is None:
            raise CommandError("No failed sign-ins are recorded for that account or address.")
        try:
            services.lockout_unlock(
                actor=None, lockout=row, reason=reason, via="system:manage.py unlock_login"
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Unlocked {row}.")
