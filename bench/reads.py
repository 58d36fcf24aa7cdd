"""Benchmark: server time and SQL statements of every list page and list endpoint over the
scale world of ``bench/seed_scale.py`` (issue 14: p95 under 150 ms at 100,000 versions and
flat from 2,000, a fixed query count).

Not a test. In-process (Django's test client: middleware, admin, templates, DRF; all but
the network) against the database the seed grew. Requested ``--repeat`` times each, after
two unmeasured warm-up requests, as the person who uses it:

- every registered ModelAdmin's changelist, as a superuser;
- the version changelist searched by checksum, by "name version" and by a name prefix; the
  request changelist searched by "name version"; the audit log searched by a model name;
- the board's pages (the approver's queue and the navigation badge on the admin index, a
  review page, the request list), the manager's dashboard, scorecard and request list,
  the owner's "My models", filtered version list, version page and model card, a
  release's page;
- every API list endpoint with a read token (versions: all, a model's, by state; promotion
  requests: all, a team's, ``?awaiting=me`` for the approver's session; deployments: all, a
  customer's; releases; incidents: all and a title search; served-at; the scorecard), and
  a deep page of versions, requests and deployments: the cursor 90 % of the way down the
  list (walked with ``next`` links), read at the default page size ("page 1,000" at
  100,000 versions).

Prints name, p50/p95 wall ms, CPU p50 ms (this process: Django and DRF, not PostgreSQL),
and the SQL time and statements of one request; ``--json FILE`` writes them, ``--compare
FILE`` adds the ratio to an earlier run's p50 and p95, ``--explain`` prints the PostgreSQL
plan (EXPLAIN ANALYZE) of the two slowest statements of every page over ``--budget`` ms
p95 or whose p50 is over ``--ratio`` times the earlier run's (``--plan TEXT``: and of every
page whose name contains TEXT, e.g. ``--plan "audit log"``).

Usage (after bench/seed_scale.py):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/govboard_bench100k \\
        .venv/bin/python bench/reads.py --json /tmp/reads_2k.json
    ... seed_scale.py --versions 100000, then:
    DATABASE_URL=... .venv/bin/python bench/reads.py --compare /tmp/reads_2k.json --explain
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale_world as sw

DEEP = 0.9  # how far down a list the deep page's cursor is


@dataclass(frozen=True)
class Target:
    name: str
    persona: str  # a key of the clients: admin, approver, manager, owner, token
    url: str


def clients(people: dict[str, Any]) -> dict[str, Any]:
    from django.test import Client
    from rest_framework.test import APIClient

    made = {}
    for persona in ("admin", "approver", "manager", "owner"):
        made[persona] = Client()
        made[persona].force_login(people[persona])
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Bearer {sw.read_token(people)}")
    made["token"] = token
    return made


def admin_changelists() -> list[Target]:
    """Every registered ModelAdmin's changelist (the superuser sees them all)."""
    from django.contrib import admin
    from django.urls import NoReverseMatch, reverse

    targets = []
    for model in sorted(admin.site._registry, key=lambda m: m._meta.label_lower):
        opts = model._meta
        try:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        except NoReverseMatch:
            continue
        targets.append(Target(f"admin {opts.label_lower}", "admin", url))
    return targets


def targets(people: dict[str, Any]) -> list[Target]:
    from django.urls import reverse
    from django.utils import timezone

    from approvals.choices import RequestState
    from approvals.models import PromotionRequest
    from registry.models import ModelVersion, Release

    team = people["teams"][0]
    # A model in the middle of the world (the same one at every size: index 50 of 100+).
    middle = 50 * sw.VERSIONS_PER_MODEL + 3
    name, text = sw.model_name(middle // sw.VERSIONS_PER_MODEL), sw.version_text(middle)
    owned = (
        ModelVersion.objects.filter(registered_model__team=team, state="approved")
        .order_by("-id")
        .first()
    )
    review = (
        PromotionRequest.objects.filter(
            state=RequestState.IN_REVIEW, version__registered_model__team=team
        )
        .order_by("-id")
        .first()
    )
    release = Release.objects.filter(team=team).order_by("-id").first()
    versions = reverse("admin:registry_modelversion_changelist")
    requests = reverse("admin:approvals_promotionrequest_changelist")
    audit_log = reverse("admin:audit_auditevent_changelist")
    api = "/api/v1/"
    at = timezone.now().isoformat()
    return [
        *admin_changelists(),
        Target("admin versions ?q=checksum", "admin", f"{versions}?q={sw.checksum_of(middle)}"),
        Target("admin versions ?q=name version", "admin", f"{versions}?q={name}+{text}"),
        Target("admin versions ?q=name prefix", "admin", f"{versions}?q={name[:-1]}"),
        Target("admin requests ?q=name version", "admin", f"{requests}?q={name}+{text}"),
        Target("admin audit log ?q=model name", "admin", f"{audit_log}?q={name}"),
        Target("awaiting your sign-off", "approver", reverse("admin:awaiting")),
        Target("admin index (badge)", "approver", reverse("admin:index")),
        Target(
            "review page",
            "approver",
            reverse("admin:approvals_promotionrequest_change", args=[review.pk]),
        ),
        Target("approver's request list", "approver", requests),
        Target("manager dashboard", "manager", reverse("admin:dashboard")),
        Target("manager scorecard", "manager", reverse("admin:scorecard")),
        Target("manager's request list", "manager", requests),
        Target(
            "my models (expiring in 30 days)", "owner", reverse("admin:my_models") + "?expiry=30"
        ),
        Target("owner's version list ?expiry=30&o=5", "owner", f"{versions}?expiry=30&o=5"),
        Target(
            "version page",
            "owner",
            reverse("admin:registry_modelversion_change", args=[owned.pk]),
        ),
        Target("model card", "owner", reverse("admin:model_card", args=[owned.pk])),
        Target(
            "release page", "admin", reverse("admin:registry_release_change", args=[release.pk])
        ),
        Target("API versions", "token", f"{api}versions/"),
        Target("API versions ?model=", "token", f"{api}versions/?team={team.slug}&model={name}"),
        Target("API versions ?state=candidate", "token", f"{api}versions/?state=candidate"),
        Target("API promotion-requests", "token", f"{api}promotion-requests/"),
        Target(
            "API promotion-requests ?team=", "token", f"{api}promotion-requests/?team={team.slug}"
        ),
        Target(
            "API promotion-requests ?awaiting=me",
            "approver",
            f"{api}promotion-requests/?awaiting=me",
        ),
        Target("API deployments", "token", f"{api}deployments/"),
        Target(
            "API deployments ?customer_scope=",
            "token",
            f"{api}deployments/?customer_scope=customer-07",
        ),
        Target("API releases", "token", f"{api}releases/"),
        Target("API incidents", "token", f"{api}incidents/"),
        Target("API incidents ?q=title", "token", f"{api}incidents/?q=p95"),
        Target(
            "API served-at",
            "token",
            f"{api}served/?" + urlencode({"customer": "customer-07", "at": at}),
        ),
        Target("API scorecard", "token", f"{api}scorecard/"),
    ]


def deep_targets(made: dict[str, Any]) -> list[Target]:
    """The cursor 90 % down each big list, walked with ``next`` (200 rows a step), read at
    the default page size."""
    from approvals.models import PromotionRequest
    from registry.models import Deployment, ModelVersion

    found = []
    for label, path, model in (
        ("versions", "/api/v1/versions/", ModelVersion),
        ("promotion-requests", "/api/v1/promotion-requests/", PromotionRequest),
        ("deployments", "/api/v1/deployments/", Deployment),
    ):
        steps = int(model.objects.count() * DEEP) // 200
        url = f"{path}?page_size=200"
        for _ in range(steps):
            response = made["token"].get(url)
            assert response.status_code == 200, (url, response.status_code)
            following = response.json()["next"]
            if following is None:
                break
            url = following
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "page_size"]
        url = urlunsplit(("", "", parts.path, urlencode(query), ""))
        found.append(Target(f"API {label} deep cursor ({steps * 200:,} rows in)", "token", url))
    return found


def measure(made: dict[str, Any], target: Target, repeat: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = made[target.persona]
    for _ in range(2):  # templates compiled, session and content types cached
        status = client.get(target.url).status_code
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        client.get(target.url)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(target.url)
    timed = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))
    return {
        "name": target.name,
        "as": target.persona,
        "url": target.url,
        "status": status,
        "p50": statistics.median(walls),
        "p95": statistics.quantiles(walls, n=20)[-1] if repeat >= 20 else max(walls),
        "cpu_p50": statistics.median(cpus),
        "queries": len(queries),
        # The statements' own time as the database driver saw it: wall minus this is Python.
        "sql_ms": sum(float(q["time"]) for q in timed) * 1000,
        "slowest": [(float(q["time"]) * 1000, q["sql"]) for q in timed[:2]],
    }


def explain(sql: str) -> list[str]:
    from django.db import connection

    if connection.vendor != "postgresql" or not sql.lstrip().upper().startswith("SELECT"):
        return []
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return [line for (line,) in cursor.fetchall()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--compare", help="an earlier --json file: print the ratios")
    parser.add_argument("--explain", action="store_true", help="plans of the slow pages")
    parser.add_argument("--budget", type=float, default=150.0, help="p95 ms (default 150)")
    parser.add_argument("--ratio", type=float, default=2.0, help="vs --compare (default 2)")
    parser.add_argument("--only", help="only targets whose name contains this")
    parser.add_argument("--plan", help="and the plan of every target whose name contains this")
    parser.add_argument("--plan-lines", type=int, default=25, help="lines of each plan")
    options = parser.parse_args()
    sw.setup_django()
    from django.db import connection

    people = sw.world()
    made = clients(people)
    versions = sw.versions_in_world()
    load = os.getloadavg()
    meta = {
        "versions": versions,
        "repeat": options.repeat,
        "nproc": os.cpu_count(),
        "load": [round(x, 2) for x in load],
        "vendor": connection.vendor,
        "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    earlier = {}
    if options.compare:
        previous = json.loads(Path(options.compare).read_text())
        earlier = {row["name"]: row for row in previous["rows"]}
        # A deep cursor's label names its depth, which differs between sizes.
        earlier |= {_base(row["name"]): row for row in previous["rows"]}
    print(
        f"{connection.vendor}, {versions:,} versions; {options.repeat} requests per page; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    started = time.perf_counter()
    chosen = targets(people)
    if not options.only or "deep" in options.only:
        chosen += deep_targets(made)
        print(f"(the deep cursors took {time.perf_counter() - started:.1f} s to walk)")
    if options.only:
        chosen = [t for t in chosen if options.only in t.name]
    header = (
        f"{'page / endpoint':<52} {'as':<8} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50':>8} "
        f"{'SQL ms':>7} {'SQL':>4}"
    )
    if earlier:
        header += f" {'p50 x':>6} {'p95 x':>6} {'SQL was':>7}"
    print(header)
    rows, flagged = [], []
    for target in chosen:
        row = measure(made, target, options.repeat)
        rows.append(row)
        line = (
            f"{row['name'][:52]:<52} {row['as']:<8} {row['p50']:>8.1f} {row['p95']:>8.1f} "
            f"{row['cpu_p50']:>8.1f} {row['sql_ms']:>7.1f} {row['queries']:>4}"
        )
        before = earlier.get(row["name"]) or earlier.get(_base(row["name"]))
        ratio = None
        if before:
            # Flagged on the median's ratio: one slow request of 20 on a shared machine
            # moves p95 alone (both are printed).
            ratio = row["p50"] / max(before["p50"], 0.1)
            line += (
                f" {ratio:>6.2f} {row['p95'] / max(before['p95'], 0.1):>6.2f} "
                f"{before['queries']:>7}"
            )
        if row["status"] != 200:
            line += f"  HTTP {row['status']}"
        print(line, flush=True)
        if (
            row["p95"] > options.budget
            or (ratio is not None and ratio > options.ratio)
            or (options.plan and options.plan in row["name"])
        ):
            flagged.append(row)
    if options.explain or options.plan:
        for row in flagged:
            print(f"\n{row['name']} ({row['url']}): SQL {row['sql_ms']:.1f} ms of one request")
            for milliseconds, sql in row["slowest"]:
                if milliseconds < 2:
                    continue  # the driver's clock: below 2 ms, nothing a plan would explain
                print(f"  {milliseconds:.1f} ms: {sql[:400]}")
                for line in explain(sql)[: options.plan_lines]:
                    print(f"    {line[:300]}")
    if options.json:
        Path(options.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    return 0


def _base(name: str) -> str:
    return name.split(" (")[0]


if __name__ == "__main__":
    raise SystemExit(main())
