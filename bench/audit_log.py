"""Benchmark: seal and verify the audit transparency log over N audit events (ADR 0013).

Not a test (pytest only collects tests/). Against a PostgreSQL database of its own, which it
migrates; it appends N audit events (bulk, the seal job reads rows, not services), seals them
in runs of 10,000 new events, runs the seal once more with nothing new (the anti-join's cost
on a fully sealed log), then ``verify_audit``'s full check. Prints the seal cost per 10,000
new events, the verify time per 100,000 rows (wall and CPU), and the process's peak RSS;
``--verify-only`` verifies a log an earlier run sealed, in a process of its own.

Usage (N defaults to 100,000; --events 1000000 for the large run):
    psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS govboard_bench_audit' \\
                                   -c 'CREATE DATABASE govboard_bench_audit'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/govboard_bench_audit \\
        .venv/bin/python bench/audit_log.py --events 100000
    DATABASE_URL=... .venv/bin/python bench/audit_log.py --verify-only
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


def peak_rss_kb() -> int:
    """This process's peak resident set so far (VmHWM; ru_maxrss as a fallback)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--verify-only", action="store_true", help="only verify_audit, over a log sealed before"
    )
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
    if arguments.verify_only:
        return _verify(verify_audit_log)
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

    seal_times, seal_cpu = [], []
    while True:
        started, cpu = time.perf_counter(), time.process_time()
        result = audit_log_seal(limit=RUN)
        if not result.sealed:
            break
        seal_times.append((time.perf_counter() - started) * RUN / result.sealed)
        seal_cpu.append((time.process_time() - cpu) * RUN / result.sealed)
    started, cpu = time.perf_counter(), time.process_time()
    audit_log_seal(limit=RUN)
    idle, idle_cpu = time.perf_counter() - started, time.process_time() - cpu

    print(
        f"seal per 10,000 new events: mean {statistics.mean(seal_times):.2f} s wall / "
        f"{statistics.mean(seal_cpu):.2f} s CPU, first {seal_times[0]:.2f} s, last "
        f"{seal_times[-1]:.2f} s wall / {seal_cpu[-1]:.2f} s CPU ({len(seal_times)} runs); "
        f"a run with nothing new: {idle:.2f} s wall / {idle_cpu:.2f} s CPU"
    )
    return _verify(verify_audit_log)


def _verify(verify_audit_log) -> int:
    """verify_audit's full check: wall, CPU and this process's peak RSS before and after."""
    before_verify_kb = peak_rss_kb()
    cpu = time.process_time()
    report = verify_audit_log()
    verify_cpu = time.process_time() - cpu
    print(
        f"verify_audit: {report.leaves} rows (tree size {report.tree_size}, {report.heads} "
        f"heads) in {report.seconds:.1f} s wall, {verify_cpu:.1f} s CPU = "
        f"{report.seconds * 100_000 / max(report.leaves, 1):.1f} s wall / "
        f"{verify_cpu * 100_000 / max(report.leaves, 1):.1f} s CPU per 100,000 rows; "
        f"{'OK' if report.ok else f'FAILED: {report.first}'}"
    )
    print(
        f"peak RSS {peak_rss_kb() / 1024:.0f} MiB "
        f"(before verify_audit: {before_verify_kb / 1024:.0f} MiB)"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
