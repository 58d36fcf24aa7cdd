"""Benchmark: server time of the model owner's and the auditor's pages at 2,000 rows on
PostgreSQL (issue 11: under 300 ms each). Not a test (pytest collects only tests/).

Against a database of its own, which it migrates and fills once: one team, an owner with
two models and N versions (approved, expiring over the next 60 days) of which one has a
promotion request waiting for the board, and N audit events about them. Then each page
is requested through Django's test client (middleware, admin, templates: everything but
the network) ``--repeat`` times; prints the median and worst milliseconds and the query
count, and the PostgreSQL plan of the audit search's model-name condition.

Usage:
    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE govboard_bench_owner'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/govboard_bench_owner \\
        .venv/bin/python bench/owner_pages.py --rows 2000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govboard.settings.test")
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host, in-memory email


def prepare(rows: int):
    """The owner and their versions and events (made once; reused when present)."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from audit.models import AuditEvent
    from audit.verbs import AuditVerb
    from registry.models import ModelVersion, RegisteredModel
    from tests.registry.admin.owner_scenario import bulk_versions, owned_model, owner_of
    from tests.registry.factories import TeamFactory, UserFactory

    call_command("migrate", verbosity=0)
    model = RegisteredModel.objects.filter(name="bench-owner-a").first()
    if (
        model is not None
        and ModelVersion.objects.filter(registered_model__team=model.team).count() >= rows
    ):
        return model.owner, UserFactory._meta.model.objects.get(username="bench-admin")
    team = TeamFactory(slug="bench-owner")
    owner = owner_of(team, username="bench-owner")
    admin = UserFactory(username="bench-admin", is_superuser=True)
    now = timezone.now()
    for index, name in enumerate(("bench-owner-a", "bench-owner-b")):
        model = owned_model(team, owner, name=name)
        half = rows // 2
        for start in range(0, half, 100):
            bulk_versions(
                model,
                min(100, half - start),
                expires_at=now + timedelta(days=(start % 60) + 1),
                start=start + index * 100_000,
            )
    versions = list(
        ModelVersion.objects.filter(registered_model__team=team).values_list("pk", flat=True)
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=owner,
            actor_label="user:bench-owner",
            verb=AuditVerb.VERSION_REGISTERED,
            object_type="registry.modelversion",
            object_id=str(pk),
            team_id=team.pk,
        )
        for pk in versions[:rows]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the planner's statistics, as autovacuum would leave them
    return owner, admin


def timed(client, url: str, repeat: int) -> tuple[float, float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm: templates compiled, session cached
    times, cpu = [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    # Wall time includes the database's work; CPU time is this process's alone, which a
    # machine shared with other work inflates less.
    return statistics.median(times), max(times), statistics.median(cpu), len(queries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    _django()
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from audit.models import AuditEvent
    from govboard.audit_subjects import model_events_q
    from registry.models import ModelVersion

    owner, admin = prepare(args.rows)
    version = ModelVersion.objects.filter(registered_model__owner=owner).order_by("id").first()
    owner_client, admin_client = Client(), Client()
    owner_client.force_login(owner)
    admin_client.force_login(admin)
    changelist = reverse("admin:registry_modelversion_changelist")
    audit_log = reverse("admin:audit_auditevent_changelist")
    pages = [
        (
            "My models (expiring in 30 days)",
            owner_client,
            reverse("admin:my_models") + "?expiry=30",
        ),
        ("version list (expiry filter, sorted)", owner_client, changelist + "?expiry=30&o=5"),
        (
            "version page",
            owner_client,
            reverse("admin:registry_modelversion_change", args=[version.pk]),
        ),
        ("model card", owner_client, reverse("admin:model_card", args=[version.pk])),
        ("audit log", admin_client, audit_log),
        ("audit log, search 'bench-owner'", admin_client, audit_log + "?q=bench-owner"),
    ]
    load = os.getloadavg()[0]
    print(
        f"{args.rows} versions and audit events; {args.repeat} requests per page; load {load:.1f}"
    )
    for label, client, url in pages:
        median, worst, cpu, queries = timed(client, url, args.repeat)
        print(
            f"{label:38} median {median:6.1f} ms  worst {worst:6.1f} ms  "
            f"CPU {cpu:6.1f} ms  {queries:2} queries"
        )
    events = AuditEvent.objects.filter(model_events_q(admin, "bench-owner", prefix=True))
    with connection.cursor() as cursor:
        sql, params = events.order_by("-id")[:100].query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print("plan of the audit search (model names by prefix):")
    print(plan)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
