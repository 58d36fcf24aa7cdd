"""manage.py seal_audit: seal the committed audit rows not sealed yet (the beat job's work)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from audit.services import audit_log_seal
from audit.transparency.sealing import DEFAULT_LIMIT


class Command(BaseCommand):
    help = "Append unsealed audit events and history rows to the transparency log; sign a head."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="rows per run")

    def handle(self, *args, limit: int, **options) -> None:
        result = audit_log_seal(limit=limit)
        head = f", signed head {result.head.root_hash}" if result.head else ", no new head"
        self.stdout.write(f"sealed {result.sealed} rows; tree size {result.tree_size}{head}")
