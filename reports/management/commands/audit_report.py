"""manage.py audit_report: the auditor's report from the command line, written as it is
built (CSV and JSON stream to the file; bounded memory whatever the history's size).

    manage.py audit_report --actor alice --model alpha/support-bot --format json --output r.json
    manage.py audit_report --actor alice --customer acme --from 2026-01-01T00:00Z \\
        --until 2026-04-01T00:00Z --format pdf --output acme-q1.pdf

``--actor`` names the person the report is for: it holds exactly the rows they may export
(a command run on the server is not an identity, and an auditor scoped to teams must get
the same report here as in the admin).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from reports.exports import FORMATS, report_chunks
from reports.scope import report_scope


class Command(BaseCommand):
    help = "Export an audit report (CSV, JSON with proofs, or PDF) for a scope."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--actor", required=True, help="username the report is for")
        parser.add_argument("--model", default="", help="team/name")
        parser.add_argument("--team", default="", help="team slug")
        parser.add_argument("--customer", default="", help="customer scope")
        parser.add_argument("--from", dest="start", default="", help="ISO 8601 with a zone")
        parser.add_argument("--until", default="", help="ISO 8601 with a zone")
        parser.add_argument("--format", choices=FORMATS, default="json")
        parser.add_argument("--output", default="-", help="file to write ('-': stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["actor"]).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active user {options['actor']!r}.")
        try:
            scope = report_scope(
                actor=user,
                model=options["model"],
                team=options["team"],
                customer=options["customer"],
                start=options["start"] or None,
                until=options["until"] or None,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        chunks = report_chunks(scope, options["format"])
        if options["output"] == "-":
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            return
        target = Path(options["output"])
        written = 0
        try:
            with target.open("wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    written += len(chunk)
        except OSError as exc:
            raise CommandError(f"Cannot write {target}: {exc}") from exc
        self.stderr.write(f"Wrote {written} bytes to {target}.")
