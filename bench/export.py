"""Benchmark: an auditor's report over N history rows, streamed (issue 10's bounded memory).

Not a test (pytest only collects tests/). Against a PostgreSQL database of its own, which it
migrates: one model version and N rows of its django-simple-history table, inserted in one
``INSERT ... SELECT ... generate_series`` (history tables are append-only: INSERT is
allowed; nothing else writes this way). Each export then runs in a child process of its
own, so its peak RSS is its own: the CSV, and the JSON report without its proofs, over
all N rows. Prints rows/s (wall and CPU) and peak RSS per export; the goal is >= 50,000
rows/s within 150 MB. With ``--proofs`` it first seals every row not sealed yet (the seal
job, in runs of 50,000) and then also writes the JSON with its proofs: N cited history
rows, each with its canonical text and inclusion proof (streamed, ADR 0015).

Usage (N defaults to 1,000,000):
    psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS govboard_bench_export' \\
                                   -c 'CREATE DATABASE govboard_bench_export'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/govboard_bench_export \\
        .venv/bin/python bench/export.py --rows 1000000 [--reuse] [--proofs]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODEL = "bench-export/history"


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govboard.settings.test")
    import django

    django.setup()


def prepare(rows: int, *, reuse: bool = False) -> str:
    """The version and its N history rows; returns the auditor's username."""
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection, transaction

    from approvals.apps import AUDITOR_GROUP
    from registry.models import ModelVersion
    from tests.registry.factories import ModelVersionFactory, TeamFactory, UserFactory

    call_command("migrate", verbosity=0)
    if reuse and ModelVersion.objects.filter(registered_model__name="history").exists():
        print("reusing the history rows already there")
        return "bench-auditor"
    if ModelVersion.objects.filter(registered_model__name="history").exists():
        print("the database already holds the benchmark's rows: use a fresh one", file=sys.stderr)
        raise SystemExit(2)
    with transaction.atomic():
        team = TeamFactory(slug="bench-export")
        version = ModelVersionFactory(registered_model__team=team, registered_model__name="history")
        auditor = UserFactory(username="bench-auditor")
        auditor.groups.add(Group.objects.get(name=AUDITOR_GROUP))
    history = ModelVersion.history.model
    table = history._meta.db_table
    columns = [f.column for f in history._meta.concrete_fields if f.column != "history_id"]
    listed = ", ".join(f'"{c}"' for c in columns)
    chosen = ", ".join(
        "h.history_date + g * interval '1 millisecond'" if c == "history_date" else f'h."{c}"'
        for c in columns
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ({listed}) SELECT {chosen} FROM "{table}" h, '  # noqa: S608
            "generate_series(1, %s) g WHERE h.id = %s",
            [rows - 1, version.pk],
        )
    print(f"inserted {rows:,} history rows in {time.perf_counter() - started:.1f} s")
    return auditor.username


def peak_rss_kb() -> int:
    """This process's peak resident set (VmHWM): unlike ``ru_maxrss``, it does not carry
    the high-water mark of the parent process across ``exec``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def export(export_format: str, proofs: bool, out: Path) -> dict:
    """One export in this process: bytes, rows, seconds and peak RSS."""
    from django.contrib.auth import get_user_model

    from reports.exports.csv_export import csv_chunks
    from reports.exports.json_export import json_chunks
    from reports.scope import report_scope

    auditor = get_user_model().objects.get(username="bench-auditor")
    scope = report_scope(actor=auditor, model=MODEL)
    chunks = csv_chunks(scope) if export_format == "csv" else json_chunks(scope, with_proofs=proofs)
    before = peak_rss_kb()
    started, cpu = time.perf_counter(), time.process_time()
    written = 0
    with out.open("w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(chunk)
            written += len(chunk)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = peak_rss_kb()
    return {
        "bytes": written,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_kb": peak,
        "start_kb": before,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep rows of an earlier run")
    parser.add_argument("--proofs", action="store_true", help="seal, then JSON with proofs")
    parser.add_argument("--child", nargs=2, metavar=("FORMAT", "PROOFS"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("set DATABASE_URL to a PostgreSQL database of its own", file=sys.stderr)
        return 2
    os.environ.setdefault("GOVBOARD_AUDIT_HEADS_URL", f"file://{tempfile.mkdtemp()}")
    _django()
    if arguments.child:
        export_format, proofs = arguments.child
        out = Path(tempfile.mkstemp(suffix=f".{export_format}")[1])
        print(json.dumps(export(export_format, proofs == "yes", out)))
        out.unlink()
        return 0
    prepare(arguments.rows, reuse=arguments.reuse)
    for export_format in ("csv", "json"):
        _report(export_format, arguments.rows, _child(export_format, "no"))
    if arguments.proofs:
        seal_all()
        _report("json with proofs", arguments.rows, _child("json", "yes"))
    return 0


def seal_all() -> None:
    """Seal every row not sealed yet, so the proofs cover all N history rows."""
    from audit.services import audit_log_seal

    started, cpu, sealed = time.perf_counter(), time.process_time(), 0
    while sealed_now := audit_log_seal(limit=50_000).sealed:
        sealed += sealed_now
    if sealed:
        print(
            f"sealed {sealed:,} rows in {time.perf_counter() - started:.1f} s "
            f"({time.process_time() - cpu:.1f} s CPU)"
        )


def _child(export_format: str, proofs: str) -> dict:
    done = subprocess.run(  # noqa: S603 (this script, with its own arguments)
        [sys.executable, __file__, "--child", export_format, proofs],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _report(label: str, rows: int, figure: dict) -> None:
    rate = rows / figure["seconds"]
    print(
        f"{label}: {rows:,} rows in {figure['seconds']:.1f} s = {rate:,.0f} rows/s "
        f"({figure['cpu_seconds']:.1f} s CPU = {rows / figure['cpu_seconds']:,.0f} rows/CPU-s), "
        f"{figure['bytes'] / 1e6:.0f} MB written, peak RSS {figure['peak_kb'] / 1024:.0f} MB "
        f"(at start {figure['start_kb'] / 1024:.0f} MB)"
    )


if __name__ == "__main__":
    sys.exit(main())
