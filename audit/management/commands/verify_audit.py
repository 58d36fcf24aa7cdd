"""manage.py verify_audit: recompute the transparency log and name the first broken record."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.transparency.database import unsealed_count, verify_audit_log

SHOWN = 20


class Command(BaseCommand):
    help = (
        "Recompute every leaf from its row, the Merkle tree, every stored and external signed "
        "tree head and the consistency between heads. Exit 0 when clean, 1 naming the first "
        "altered, missing, reordered or inserted record."
    )

    def handle(self, *args, **options) -> None:
        report = verify_audit_log()
        unsealed = unsealed_count()
        for warning in report.warnings[:SHOWN]:
            self.stderr.write(f"warning: {warning}")
        summary = (
            f"{report.leaves} rows verified in {report.seconds:.2f} s; tree size "
            f"{report.tree_size} root {report.root_hash}; {report.heads} heads, "
            f"{report.external_heads} outside the database; {unsealed} rows not sealed yet"
        )
        if report.ok:
            self.stdout.write(f"OK: {summary}")
            return
        for finding in report.findings[1:SHOWN]:
            self.stderr.write(f"  also {finding}")
        more = len(report.findings) - SHOWN
        if more > 0:
            self.stderr.write(f"  and {more} more")
        raise CommandError(f"first broken record: {report.first}. ({summary})", returncode=1)
