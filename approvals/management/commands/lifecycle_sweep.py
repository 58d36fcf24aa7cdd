"""``manage.py lifecycle_sweep [--dry-run]``: run the lifecycle rules now (expired,
vulnerable, unowned, stale, then retirement after grace), or list what they would change
and why without changing anything. The dry run and the run judge with the same functions
(``approvals.hygiene``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from approvals import services
from approvals.hygiene.preview import all_rows
from core.moments import parse_aware


class Command(BaseCommand):
    help = "Run the lifecycle rules now, or with --dry-run list what they would change."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would change; change nothing"
        )
        parser.add_argument(
            "--now",
            type=_moment,
            help="judge as of this ISO 8601 moment with a zone (default: now); e.g. what "
            "a sweep next month would do",
        )

    def handle(self, *args, dry_run: bool = False, now: datetime | None = None, **options):
        now = now or timezone.now()
        if dry_run:
            count = 0
            for row in all_rows(now=now):
                count += 1
                self.stdout.write(
                    f"{row.rule}\t{row.action}\t{row.version} "
                    f"({row.version.registered_model.team.slug})\t{row.reason}"
                )
            self.stdout.write(f"dry run at {now.isoformat()}: {count} change(s); none made.")
            return
        # The audit trail names this run, as a task run is named by its task id.
        via = f"system:command lifecycle_sweep {uuid.uuid4()}"
        for report in services.lifecycle_sweep(via=via, now=now):
            self.stdout.write(str(report))


def _moment(value: str) -> datetime:
    moment = parse_aware(value)
    if moment is None:
        raise CommandError("--now takes an ISO 8601 moment with a time zone.")
    return moment
