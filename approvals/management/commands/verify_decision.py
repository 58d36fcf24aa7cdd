"""Verify a signed decision record: ``manage.py verify_decision <file | request id>``.

Exit 0 when the DSSE signature verifies with the server's public key (and, for a request
id, the statement names that request's artifact and checksum); exit 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from approvals import services
from approvals.models import DecisionRecord


class Command(BaseCommand):
    help = "Verify a decision record (a DSSE envelope file, or a promotion request id)."

    def add_arguments(self, parser):
        parser.add_argument("target", help="path to an envelope JSON file, or a request id")

    def handle(self, *args, target: str, **options):
        request = None
        if target.isdigit() and not Path(target).exists():
            record = (
                DecisionRecord.objects.filter(request_id=int(target))
                .select_related("request__version__registered_model__team")
                .first()
            )
            if record is None:
                self.stderr.write(f"No decision record for request {target}.")
                sys.exit(1)
            envelope, request = record.envelope, record.request
        else:
            try:
                envelope = json.loads(Path(target).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self.stderr.write(f"Cannot read {target}: {exc}")
                sys.exit(1)
        ok, problems, statement = services.verify_decision_envelope(envelope, request=request)
        if not ok:
            self.stderr.write("NOT VERIFIED: " + "; ".join(problems))
            sys.exit(1)
        subject = statement["subject"][0]
        self.stdout.write(
            f"VERIFIED: {subject['name']} sha256:{subject['digest']['sha256']} approved under "
            f"policy {statement['predicate']['policy']['name']} "
            f"v{statement['predicate']['policy']['version']}"
        )
