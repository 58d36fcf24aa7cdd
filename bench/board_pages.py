"""Benchmark: server time of the board's pages (issue 11: under 300 ms at 2,000 requests):
the approver's queue, the review page, the request list and the manager dashboard. The
owner's and auditor's pages are bench/owner_pages.py.

Not a test. It builds its own database (``--requests`` promotion requests in review on one
team, each with its version, check results and an audit event; one of them submitted and
checked through the services so its review page shows real evidence), then renders every
page in-process with Django's test client as the person who uses it and prints p50/p95
server time (wall and CPU) and the SQL statements of one render.

Usage (PostgreSQL; the database is dropped and re-created):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/govboard_bench_board \\
        .venv/bin/python bench/board_pages.py --requests 2000 --repeat 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govboard.settings.test")
    os.environ.setdefault("GOVBOARD_WARN_NOT_TAMPER_RESISTANT", "0")
    import django

    django.setup()


def seed(requests: int) -> dict:
    """The data the pages read: ``requests`` open requests and the people who look at them."""
    from django.contrib.auth.models import Group, Permission

    from approvals.apps import AUDITOR_GROUP, MANAGER_GROUP
    from approvals.models import CheckResult, PromotionRequest
    from audit.models import AuditEvent
    from registry.models import ModelVersion, RegisteredModel
    from tests.approvals.factories import PromotionRequestFactory, request_in_review
    from tests.registry.factories import (
        ModelVersionFactory,
        RegisteredModelFactory,
        UserFactory,
        approver,
        manager,
    )

    real = request_in_review()  # through the services: evidence, checks, audit, history
    team = real.version.registered_model.team
    owner = real.version.registered_model.owner
    people = {
        "approver": approver(team, "security", username="bench-security"),
        "manager": manager(team, username="bench-manager", is_staff=True),
        "auditor": UserFactory(username="bench-auditor", is_staff=True),
        "owner": owner,
    }
    people["auditor"].groups.add(Group.objects.get(name=AUDITOR_GROUP))
    people["manager"].groups.add(Group.objects.get(name=MANAGER_GROUP))
    people["owner"].is_staff = True
    people["owner"].save()
    people["owner"].user_permissions.add(
        *Permission.objects.filter(codename__in=["view_modelversion", "view_registeredmodel"])
    )
    requester = UserFactory(username="bench-ci")
    models = RegisteredModel.objects.bulk_create(
        RegisteredModelFactory.build(
            team=team, name=f"bench-model-{index:05d}", owner=owner, backup_owner=requester
        )
        for index in range(requests - 1)
    )
    versions = ModelVersion.objects.bulk_create(
        ModelVersionFactory.build(registered_model=model, version="1.0.0") for model in models
    )
    bulk = PromotionRequest.objects.bulk_create(
        PromotionRequestFactory.build(
            version=version,
            requested_by=requester,
            policy=real.policy,
            policy_snapshot=real.policy_snapshot,
            priority=index % 2,
        )
        for index, version in enumerate(versions)
    )
    template = list(CheckResult.objects.filter(request=real))
    CheckResult.objects.bulk_create(
        CheckResult(
            request=request,
            run=result.run,
            check_name=result.check_name,
            passed=result.passed if index % 7 else False,
            critical=result.critical,
            detail=result.detail,
            evidence_sha256=result.evidence_sha256,
        )
        for index, request in enumerate(bulk)
        for result in template
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=requester,
            actor_label=f"user:{requester.username}",
            verb="promotion.submitted",
            object_type="approvals.promotionrequest",
            object_id=str(request.pk),
            team_id=team.pk,
        )
        for request in bulk
    )
    return {"people": people, "request": real, "version": real.version}


def pages(world: dict) -> list[tuple[str, str, str]]:
    from django.urls import reverse

    request = world["request"]
    return [
        ("awaiting your sign-off", "approver", reverse("admin:awaiting")),
        (
            "review page",
            "approver",
            reverse("admin:approvals_promotionrequest_change", args=[request.pk]),
        ),
        ("request list", "approver", reverse("admin:approvals_promotionrequest_changelist")),
        ("manager dashboard", "manager", reverse("admin:dashboard")),
        (
            "manager's request list",
            "manager",
            reverse("admin:approvals_promotionrequest_changelist"),
        ),
    ]


def measure(world: dict, repeat: int, slow: int = 0) -> list[dict]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    rows = []
    for title, persona, url in pages(world):
        client = Client()
        client.force_login(world["people"][persona])
        for _ in range(2):  # warm caches and connections, as a running server has them
            response = client.get(url)
            assert response.status_code == 200, (title, response.status_code)
        walls, cpus = [], []
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            client.get(url)
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        slowest = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:slow]
        rows.append(
            {
                "page": title,
                "as": persona,
                "p50": statistics.median(walls),
                "p95": statistics.quantiles(walls, n=20)[-1] if repeat >= 20 else max(walls),
                "cpu_p50": statistics.median(cpus),
                "queries": len(queries),
                "slowest": [(float(q["time"]) * 1000, q["sql"]) for q in slowest],
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--slowest", type=int, default=0, help="print each page's N slowest SQL")
    parser.add_argument("--explain", action="store_true", help="and PostgreSQL's plan of each")
    options = parser.parse_args()
    _setup_django()

    from django.db import connection
    from django.test.utils import setup_test_environment

    from tests.conftest import reseed_governance_policies

    setup_test_environment()
    vendor = connection.vendor
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        reseed_governance_policies()
        started = time.perf_counter()
        world = seed(options.requests)
        print(
            f"{vendor}, {options.requests} requests in review on one team "
            f"(seeded in {time.perf_counter() - started:.1f} s); {options.repeat} renders per page"
        )
        print(f"{'page':<24} {'as':<9} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50':>8} {'queries':>8}")
        for row in measure(world, options.repeat, options.slowest):
            print(
                f"{row['page']:<24} {row['as']:<9} {row['p50']:>8.1f} {row['p95']:>8.1f} "
                f"{row['cpu_p50']:>8.1f} {row['queries']:>8}"
            )
            for milliseconds, sql in row["slowest"]:
                print(f"    {milliseconds:7.1f} ms  {sql[:300]}")
                if options.explain and vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                        for (line,) in cursor.fetchall():
                            print(f"        {line}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
