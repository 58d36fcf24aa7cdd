"""``manage.py setup_database_roles``: the runtime role and exactly its grants (ADR 0014).

Runs as DATABASE_OWNER_URL's role: creates DATABASE_URL's role if it is missing, refuses
one that could lift the triggers (superuser, owner, member of the owner, CREATEROLE…) and
(re)applies its privileges. Idempotent; ``migrate`` does the same after every run.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.database_roles import (
    RuntimeRoleUnsafe,
    configured_runtime_role,
    connected_as_owner,
    setup_runtime_role,
    tamper_resistance_gap,
)
from audit.immutability import install_append_only_triggers


class Command(BaseCommand):
    help = "Create the runtime database role if missing and grant it exactly its privileges."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--database", default="default", help="Database alias.")

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        gap = tamper_resistance_gap(using)
        runtime = configured_runtime_role()
        if gap is not None or runtime is None:
            self.stdout.write(self.style.WARNING(f"{gap} Nothing to set up."))
            return
        role, password = runtime
        with connected_as_owner(using):
            install_append_only_triggers(using=using)
            try:
                grants = setup_runtime_role(role, password, using=using)
            except RuntimeRoleUnsafe as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Runtime role {grants.role} ({'created' if grants.created else 'existing'}), "
            f"owner {grants.owner}: {len(grants.append_only)} append-only tables "
            f"(SELECT, INSERT), {len(grants.writable)} tables (SELECT, INSERT, UPDATE, "
            f"DELETE), {len(grants.read_only)} read-only ({', '.join(grants.read_only)})."
        )
