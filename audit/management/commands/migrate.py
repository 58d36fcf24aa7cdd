"""``migrate`` as the owner role when DATABASE_OWNER_URL is set (ADR 0014).

The application's own connection (DATABASE_URL) is the runtime role, which may not create
or alter tables. Django's ``migrate`` is run unchanged on the same alias with the owner's
credentials; its post-migrate hooks (the append-only and lifecycle triggers, the runtime
role's grants) run on that connection too.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate

from audit.database_roles import connected_as_owner


class Command(migrate.Command):
    help = f"{migrate.Command.help} Runs as DATABASE_OWNER_URL's role when it is set."

    def handle(self, *args: Any, **options: Any) -> None:
        with connected_as_owner(options["database"]):
            super().handle(*args, **options)
