"""Benchmark: register N model versions with C concurrent clients through the HTTP API.

Not a test (pytest only collects tests/). Run it against a running server; see
bench/README.md for the PostgreSQL + gunicorn recipe. It prints versions/s and the
p50/p95/p99 latency of ``POST /api/v1/versions/`` as CI sends it (complete metadata and
an ``Idempotency-Key``), and optionally, in-process against the same database:

- ``--count-queries``: the SQL statements one registration costs on the server
  (Django test client + ``CaptureQueriesContext``), for a new version and a repeat;
- ``--profile K``: a cProfile of K in-process registrations (the hot spots).

Usage:
    GOVBOARD_TOKEN=gbt_… .venv/bin/python bench/register_versions.py -n 2000 -c 8 \\
        --team bench --owner bench-owner --backup-owner bench-backup
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from govboard_cli import ApiError, Client, idempotency_key_for  # noqa: E402


def version_payload(team: str, model: str, index: int) -> dict[str, Any]:
    """A registration as a CI pipeline sends it: identity plus complete metadata."""
    return {
        "team": team,
        "model": model,
        "version": f"1.{index}.0",
        "checksum": hashlib.sha256(f"{model}/{index}".encode()).hexdigest(),
        "storage_uri": f"s3://bench-models/{model}/1.{index}.0/",
        "license": "apache-2.0",
        "allowed_use_cases": ["support drafting"],
        "prohibited_use_cases": ["medical advice"],
        "risk_rating": "medium",
        "mitigation_controls": ["human review"],
        "source_commit": hashlib.sha1(str(index).encode()).hexdigest(),  # noqa: S324
        "dependency_lock_hash": hashlib.sha256(b"uv.lock").hexdigest(),
        "fine_tune_method": "lora",
        "base_model_reference": "hf://example/base@1",
    }


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def ensure_model(client: Client, args: argparse.Namespace, model: str) -> None:
    client.request(
        "PUT",
        f"teams/{args.team}/models/{model}/",
        json_body={
            "kind": "adapter",
            "owner": args.owner,
            "backup_owner": args.backup_owner,
            "escalation_contact": "oncall@example.test",
            "description": "benchmark",
        },
    )


def run_http(args: argparse.Namespace, token: str) -> dict[str, Any]:
    model = args.model or f"bench-{int(time.time())}"
    setup = Client(args.url, token, timeout=args.http_timeout, retries=0)
    ensure_model(setup, args, model)
    local = threading.local()
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def one(index: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = Client(args.url, token, timeout=args.http_timeout, retries=0)
        payload = version_payload(args.team, model, index)
        headers = (
            {} if args.no_idempotency_key else {"Idempotency-Key": idempotency_key_for(payload)}
        )
        started = time.perf_counter()
        try:
            response = client.request("POST", "versions/", json_body=payload, headers=headers)
            outcome = str(response.status)
        except ApiError as exc:
            outcome = str(exc.status or "network")
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            outcomes[outcome] += 1

    # A short warm-up (not measured) so lazy imports and connection setup do not skew p99.
    for index in range(args.warmup):
        one(args.n + index)
    latencies.clear()
    outcomes.clear()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.c) as pool:
        list(pool.map(one, range(args.n)))
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    ok = outcomes.get("201", 0)
    return {
        "url": args.url,
        "model": model,
        "requests": args.n,
        "concurrency": args.c,
        "created": ok,
        "outcomes": dict(outcomes),
        "wall_seconds": round(wall, 3),
        "versions_per_second": round(ok / wall, 1) if wall else None,
        "latency_ms": {
            "p50": round(percentile(ordered, 0.50) * 1000, 1),
            "p95": round(percentile(ordered, 0.95) * 1000, 1),
            "p99": round(percentile(ordered, 0.99) * 1000, 1),
            "mean": round(statistics.fmean(ordered) * 1000, 1) if ordered else None,
            "max": round(ordered[-1] * 1000, 1) if ordered else None,
        },
    }


_CLIENT: Any = None
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _split(queries: list[dict[str, Any]]) -> tuple[int, int]:
    """(data statements, transaction-control statements: BEGIN/SAVEPOINT/RELEASE/COMMIT)."""
    control = sum(1 for q in queries if q["sql"].lstrip().upper().startswith(_CONTROL))
    return len(queries) - control, control


def _django_client(token: str) -> Any:
    global _CLIENT
    if _CLIENT is not None:
        return _CLIENT
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govboard.settings.local")
    import django

    django.setup()
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    setup_test_environment()  # lets the test client's host "testserver" through
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    _CLIENT = client
    return client


def count_queries(args: argparse.Namespace, token: str) -> dict[str, int]:
    """Statements the server runs for one new registration and for an idempotent repeat."""
    client = _django_client(token)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    model = f"bench-sql-{int(time.time())}"
    ensure_model(_InProcess(client), args, model)
    payload = version_payload(args.team, model, 0)
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key_for(payload)}
    result: dict[str, int] = {}
    for label in ("new", "repeat"):
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/api/v1/versions/", payload, format="json", **headers)
        assert response.status_code in (200, 201), response.content
        result[label] = len(queries.captured_queries)
        result[f"{label}_data"], result[f"{label}_control"] = _split(queries.captured_queries)
        if args.show_sql:
            print(f"-- {label} registration ({response.status_code})", file=sys.stderr)
            for query in queries.captured_queries:
                print(query["sql"][:240], file=sys.stderr)
    # Without Idempotency-Key, to separate its cost.
    plain = version_payload(args.team, model, 1)
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/versions/", plain, format="json")
    assert response.status_code == 201, response.content
    result["new_without_idempotency_key"] = len(queries.captured_queries)
    result["new_without_idempotency_key_data"] = _split(queries.captured_queries)[0]
    return result


def profile(args: argparse.Namespace, token: str) -> None:
    import cProfile
    import pstats

    client = _django_client(token)
    model = f"bench-prof-{int(time.time())}"
    ensure_model(_InProcess(client), args, model)
    payloads = [version_payload(args.team, model, index) for index in range(args.profile)]
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for payload in payloads:
        client.post(
            "/api/v1/versions/",
            payload,
            format="json",
            HTTP_IDEMPOTENCY_KEY=idempotency_key_for(payload),
        )
    profiler.disable()
    wall = time.perf_counter() - started
    print(
        f"in-process: {args.profile} registrations in {wall:.2f}s "
        f"({args.profile / wall:.1f}/s, {wall / args.profile * 1000:.1f} ms each)",
        file=sys.stderr,
    )
    if args.profile_out:
        profiler.dump_stats(args.profile_out)  # e.g. python -m pstats FILE, or snakeviz
    stats = pstats.Stats(profiler, stream=sys.stderr).strip_dirs()
    stats.sort_stats("cumulative").print_stats(args.profile_lines)
    stats.sort_stats("tottime").print_stats(args.profile_lines)


class _InProcess:
    """Just enough of govboard_cli.Client over the Django test client (for model setup)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def request(self, method: str, path: str, *, json_body: Any = None, **_: Any) -> Any:
        response = self.client.generic(
            method, f"/api/v1/{path}", json.dumps(json_body), content_type="application/json"
        )
        if response.status_code >= 400:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.content!r}")
        return response


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("GOVBOARD_URL", "http://127.0.0.1:8000"))
    parser.add_argument("-n", type=int, default=2000, help="registrations (default 2000)")
    parser.add_argument("-c", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--team", default="bench")
    parser.add_argument("--model", help="default: bench-<unix time> (a fresh model per run)")
    parser.add_argument("--owner", default="bench-owner")
    parser.add_argument("--backup-owner", default="bench-backup")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--http-timeout", type=float, default=60.0)
    parser.add_argument("--no-idempotency-key", action="store_true")
    parser.add_argument("--skip-http", action="store_true", help="only the in-process parts")
    parser.add_argument(
        "--count-queries",
        action="store_true",
        help="also count server-side SQL per registration (in-process; needs DATABASE_URL "
        "pointing at the same database)",
    )
    parser.add_argument("--show-sql", action="store_true", help="print the captured statements")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="K", help="cProfile K in-process registrations"
    )
    parser.add_argument("--profile-lines", type=int, default=25)
    parser.add_argument("--profile-out", metavar="FILE", help="also dump the raw cProfile stats")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    token = os.environ.get("GOVBOARD_TOKEN", "").strip()
    if not token:
        parser.error("set GOVBOARD_TOKEN to a service-account token for the bench team")

    result: dict[str, Any] = {}
    if not args.skip_http:
        result = run_http(args, token)
    if args.count_queries:
        result["sql_statements_per_registration"] = count_queries(args, token)
    if args.profile:
        profile(args, token)

    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if not args.skip_http:
        latency = result["latency_ms"]
        print(
            f"{result['created']}/{result['requests']} versions registered with "
            f"{result['concurrency']} clients in {result['wall_seconds']}s: "
            f"{result['versions_per_second']} versions/s"
        )
        print(
            f"latency ms: p50 {latency['p50']}  p95 {latency['p95']}  p99 {latency['p99']}  "
            f"mean {latency['mean']}  max {latency['max']}"
        )
        print(f"outcomes: {result['outcomes']}")
    if "sql_statements_per_registration" in result:
        counts = result["sql_statements_per_registration"]
        print(
            f"SQL statements per registration: {counts['new']} "
            f"({counts['new_data']} queries + {counts['new_control']} BEGIN/SAVEPOINT/RELEASE/"
            f"COMMIT); idempotent repeat: {counts['repeat']}; without Idempotency-Key: "
            f"{counts['new_without_idempotency_key']} "
            f"({counts['new_without_idempotency_key_data']} queries)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
