"""Benchmark: the lifecycle sweep (every rule, then retirement) over N models and 3N
versions on PostgreSQL (issue 12).

Not a test (pytest only collects tests/). Against a PostgreSQL database of its own, which it
migrates; builds N registered models with three approved versions each (bulk, as fixtures),
of which ``--breaking`` versions break a rule (a third expired, a third unowned, a third
stale), then runs ``lifecycle_sweep`` (what ``manage.py lifecycle_sweep`` and the beat tasks
run), then again (nothing left to do: the cost of the candidate reads alone), and the admin
preview's read. Prints wall time of each and the process's peak RSS.

Usage (N defaults to 100,000 models, 300,000 versions):
    psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS govboard_bench_lifecycle' \\
                                   -c 'CREATE DATABASE govboard_bench_lifecycle'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/govboard_bench_lifecycle \\
        .venv/bin/python bench/lifecycle_sweep.py --models 100000 --breaking 3000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BATCH = 5_000

from bench.audit_log import peak_rss_kb  # noqa: E402  (after the path is set)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--breaking", type=int, default=3_000)
    arguments = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govboard.settings.test")
    # The outbox relay's nudges go to an in-process broker nobody consumes: the sweep is
    # measured, not SMTP (the test settings would run each relay inline).
    os.environ["CELERY_BROKER_URL"] = "memory://"
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("set DATABASE_URL to a PostgreSQL database of its own", file=sys.stderr)
        return 2

    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from govboard.celery import app

    app.conf.task_always_eager = False

    call_command("migrate", verbosity=0)
    from registry.models import ModelVersion

    if ModelVersion.objects.exists():
        print("the database already holds versions: use a fresh one", file=sys.stderr)
        return 2
    now = timezone.now()
    started = time.perf_counter()
    _build(arguments.models, arguments.breaking, now)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum does after a bulk load
    print(
        f"built {arguments.models} models, {3 * arguments.models} versions "
        f"in {time.perf_counter() - started:.1f} s"
    )

    from approvals import services
    from approvals.hygiene.preview import lifecycle_preview

    for label in ("sweep", "second sweep (nothing to do)"):
        started = time.perf_counter()
        reports = services.lifecycle_sweep(via="system:bench", now=now)
        elapsed = time.perf_counter() - started
        print(f"{label}: {elapsed:.1f} s; " + "; ".join(str(report) for report in reports))
    started = time.perf_counter()
    lifecycle_preview(now=now)
    print(f"admin preview read (100 rows per section): {time.perf_counter() - started:.2f} s")
    print(f"peak RSS: {peak_rss_kb() / 1024:.0f} MB")
    return 0


def _build(models: int, breaking: int, now) -> None:
    from django.contrib.auth import get_user_model

    from approvals.models import GovernancePolicy
    from registry import semver
    from registry.models import ModelVersion, RegisteredModel, Team

    GovernancePolicy.objects.filter(is_default=True).update(
        lifecycle_rules={
            "stale": {"action": "notify", "after_days": 180},
            "unowned": {"action": "deprecate"},
            "vulnerable": {"action": "deprecate"},
            "expired": {"action": "deprecate_and_retire"},
        }
    )
    User = get_user_model()
    users = User.objects.bulk_create(
        User(username=f"bench-owner-{n}", email=f"owner{n}@example.test") for n in range(200)
    )
    leavers = User.objects.bulk_create(
        User(username=f"bench-left-{n}", email=f"left{n}@example.test", is_active=False)
        for n in range(2)
    )
    team = Team.objects.create(slug="bench", name="Bench")
    third = breaking // 3
    for offset in range(0, models, BATCH):
        numbers = range(offset, min(offset + BATCH, models))
        created = RegisteredModel.objects.bulk_create(
            RegisteredModel(
                team=team,
                name=f"model-{n}",
                kind="model",
                owner=leavers[0] if n < third else users[n % 200],
                backup_owner=leavers[1] if n < third else users[(n + 1) % 200],
                escalation_contact="oncall@example.test",
            )
            for n in numbers
        )
        versions = []
        for model in created:
            for minor in range(3):
                parsed = semver.parse(f"1.{minor}.0")
                versions.append(
                    ModelVersion(
                        registered_model=model,
                        version=str(parsed),
                        version_core=parsed.core,
                        semver_key=parsed.sort_key(),
                        checksum=f"{model.pk:032x}{minor:032x}",
                        storage_uri=f"s3://bench/{model.pk}/{minor}/",
                        # Unowned: only the first version of a leaver's model is approved,
                        # so about ``breaking / 3`` versions are unowned.
                        state="approved"
                        if minor == 0 or model.owner_id != leavers[0].pk
                        else "draft",
                        approved_at=now - timedelta(days=10),
                        approval_expires_at=now + timedelta(days=80),
                        registered_by=users[0],
                    )
                )
        ModelVersion.objects.bulk_create(versions)
    ids = list(
        ModelVersion.objects.filter(state="approved", registered_model__owner__is_active=True)
        .order_by("id")
        .values_list("id", flat=True)[: 2 * third]
    )
    ModelVersion.objects.filter(pk__in=ids[:third]).update(
        approval_expires_at=now - timedelta(hours=1)
    )
    ModelVersion.objects.filter(pk__in=ids[third:]).update(
        created_at=now - timedelta(days=400), approved_at=now - timedelta(days=400)
    )


if __name__ == "__main__":
    raise SystemExit(main())
