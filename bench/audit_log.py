"""Benchmark: seal and verify the audit transparency log over N audit events (ADR 0013).

Not a test (pytest only collects tests/). Against a PostgreSQL database of its own, which it
migrates; it appends N audit events (bulk, the seal job reads rows, not services), seals them
in runs of 10,000 new events, runs the seal once more with nothing new (the anti-join's cost
on a fully sealed log), then ``verify_audit``'s full check. Prints the seal cost per 10,000
new events, the verify time per 100,000 rows, and the process's peak RSS.

Usage (N defaults to 100,000; --events 1000000 for the large run):
    psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS govboard_bench_audit' \\
                                   -c 'CREATE DATABASE govboard_bench_audit'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/govboard_bench_audit \\
        .venv/bin/python bench/audit_log.py --events 100000
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RUN = 10_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    arguments = parser.parse_args()
    heads = tempfile.mkdtemp(prefix="govboard-bench-heads-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govboard.settings.test")
    os.environ["GOVBOARD_AUDIT_HEADS_URL"] = f"file://{heads}"
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("set DATABASE_URL to a PostgreSQL database of its own", file=sys.stderr)
        return 2

    import django

    django.setup()
    from django.core.management import call_command

    from audit.models import AuditEvent, LogLeaf
    from audit.services import audit_log_seal
    from audit.transparency.database import verify_audit_log

    call_command("migrate", verbosity=0)
    if LogLeaf.objects.exists():
        print("the database already holds a sealed log: use a fresh one", file=sys.stderr)
        return 2
    started = time.perf_counter()
    for offset in range(0, arguments.events, RUN):
        AuditEvent.objects.bulk_create(
            AuditEvent(
                actor_label="system:bench",
                verb="version.registered",
                object_type="registry.modelversion",
                object_id=str(number),
                data={"number": number, "reason": "benchmark"},
            )
            for number in range(offset, min(offset + RUN, arguments.events))
        )
    print(f"inserted {arguments.events} audit events in {time.perf_counter() - started:.1f} s")

    seal_times = []
    while True:
        started = time.perf_counter()
        result = audit_log_seal(limit=RUN)
        if not result.sealed:
            break
        seal_times.append((time.perf_counter() - started) * RUN / result.sealed)
    started = time.perf_counter()
    audit_log_seal(limit=RUN)
    idle = time.perf_counter() - started

    report = verify_audit_log()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = report.tree_size
    print(
        f"seal per 10,000 new events: mean {statistics.mean(seal_times):.2f} s, "
        f"first {seal_times[0]:.2f} s, last {seal_times[-1]:.2f} s ({len(seal_times)} runs, "
        f"tree size {size}); a run with nothing new: {idle:.2f} s"
    )
    print(
        f"verify_audit: {report.leaves} rows in {report.seconds:.1f} s = "
        f"{report.seconds * 100_000 / max(report.leaves, 1):.1f} s per 100,000 rows; "
        f"{'OK' if report.ok else f'FAILED: {report.first}'}"
    )
    print(f"peak RSS {rss_mib:.0f} MiB")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
