"""Benchmark: server time of "Awaiting your sign-off" (the page, the navigation badge on
the admin index, the API's ?awaiting=me) at N requests in review on PostgreSQL (issue 11:
under 300 ms at 2,000). Not a test (pytest collects only tests/).

Against a database of its own, migrated and filled once: one team, N requests in review of
which every third is already signed for platform, and a platform approver. Each page is
requested through Django's test client ``--repeat`` times; prints the median and worst
milliseconds and the query count of each.

Usage:
    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE govboard_bench_awaiting'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/govboard_bench_awaiting \\
        .venv/bin/python bench/awaiting_queue.py --requests 2000
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

PAGES = {
    "awaiting page": "/admin/awaiting/",
    "admin index (badge)": "/admin/",
    "API ?awaiting=me": "/api/v1/promotion-requests/?awaiting=me",
}


def prepare(requests: int):
    """The team's requests and the approver (made once; reused when present)."""
    from django.core.management import call_command

    from approvals.models import PromotionRequest
    from registry.models import Team
    from tests.approvals.admin.test_awaiting_page import build_queue
    from tests.registry.factories import TeamFactory, UserFactory, approver

    call_command("migrate", verbosity=0)
    team = Team.objects.filter(slug="bench-awaiting").first()
    if (
        team is None
        or PromotionRequest.objects.filter(version__registered_model__team=team).count() < requests
    ):
        team = team or TeamFactory(slug="bench-awaiting")
        build_queue(requests, team)
    person = UserFactory._meta.model.objects.filter(username="bench-approver").first()
    return person or approver(team, "platform", username="bench-approver")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govboard.settings.test")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    person = prepare(args.requests)
    client = Client()
    client.force_login(person)
    print(f"{args.requests} requests, {connection.vendor}, {args.repeat} runs each")
    for name, url in PAGES.items():
        assert client.get(url).status_code == 200  # warm caches
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - start) * 1000)
        print(f"{name:22} median {statistics.median(times):6.1f} ms  worst {max(times):6.1f} ms")


if __name__ == "__main__":
    main()
