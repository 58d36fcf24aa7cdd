"""Profile: the CPU one CI registration costs the server, in process (issue 14).

Not a test (pytest only collects tests/). It drives Django's full request path (WSGI
handler, middleware, DRF, token auth, throttle, services) through ``django.test.Client``
-- no sockets, no gunicorn -- with the scenario of ``../shared/bench/``: ``POST
/api/v1/versions/`` with the complete metadata and an ``Idempotency-Key``, then ``GET
/api/v1/versions/<id>/``. It prints:

- ``CPU_MS`` per registration (``time.process_time``, POST and GET apart and together;
  the test client's own request building is included, a fraction of a millisecond);
- ``SQL`` statements per registration (``CaptureQueriesContext``; Django's connection
  health check is not a statement Django records);
- with ``--profile``, the functions with the most cumulative time (cProfile).

Usage (production settings, a database of its own; it migrates it first)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/govboard_h5 \\
        REDIS_URL=redis://127.0.0.1:6379/15 \\
        .venv/bin/python bench/profile_registration.py -n 300 --profile 40
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import io
import json
import os
import pstats
import secrets
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _production_environment() -> None:
    """Production settings with throwaway secrets, unless the caller chose settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govboard.settings.production")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
    os.environ.setdefault(
        "GOVBOARD_SIGNING_KEY", base64.b64encode(secrets.token_bytes(32)).decode()
    )
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("GOVBOARD_API_RATE", "1000000/min")


def payload(model: str, index: int, run: str) -> dict[str, Any]:
    """The load client's registration body (``registry_load.py``'s govboard adapter)."""
    digest = hashlib.sha256(f"{run}/{index}".encode()).hexdigest()
    return {
        "team": "profile",
        "model": model,
        "version": f"1.{index // 100}.{index % 100}",
        "checksum": digest,
        "storage_uri": f"s3://ci-artifacts/{model}/{digest[:16]}/model.tar.gz",
        "license": "apache-2.0",
        "allowed_use_cases": ["support drafting", "internal search"],
        "prohibited_use_cases": ["medical advice"],
        "risk_rating": ("low", "medium", "high", "critical")[index % 4],
        "mitigation_controls": ["human review"],
        "source_commit": hashlib.sha1(f"ci-{run}-{index}".encode()).hexdigest(),  # noqa: S324
        "dependency_lock_hash": hashlib.sha256(b"uv.lock").hexdigest(),
        "fine_tune_method": "lora",
        "base_model_reference": "hf://example/base@1",
    }


def idempotency_key(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "gbcli-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def fixtures() -> str:
    """The team, owners and a service account with a fresh token; returns the token."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from registry import services
    from registry.choices import TokenScope
    from registry.models import ServiceAccount, Team

    users = get_user_model()
    admin = users.objects.filter(username="profile-admin").first() or (
        users.objects.create_superuser("profile-admin", "admin@example.test", None)
    )
    for name in ("profile-owner", "profile-backup"):
        users.objects.get_or_create(username=name, defaults={"email": f"{name}@example.test"})
    team, _ = Team.objects.get_or_create(slug="profile", defaults={"name": "Profile"})
    account = ServiceAccount.objects.filter(name="ci-profile").first() or (
        services.service_account_create(actor=admin, name="ci-profile", teams=[team])
    )
    _, raw = services.api_token_issue(
        actor=admin,
        service_account=account,
        label=f"profile-{int(time.time())}",
        scopes=list(TokenScope.values),
        expires_at=timezone.now() + timedelta(days=1),
    )
    return raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="registrations timed (default 300)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed registrations first")
    parser.add_argument("--profile", type=int, default=0, metavar="K", help="cProfile K more")
    parser.add_argument("--top", type=int, default=35, help="functions listed (default 35)")
    parser.add_argument(
        "--sort", default="cumulative", choices=["cumulative", "tottime"], help="profile order"
    )
    parser.add_argument(
        "--callers", metavar="PATTERN", help="with --profile: who calls the functions matching"
    )
    parser.add_argument("--no-migrate", action="store_true", help="the database is migrated")
    args = parser.parse_args()

    _production_environment()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    if not args.no_migrate:
        call_command("migrate", verbosity=0, interactive=False)
    token = fixtures()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    run = secrets.token_hex(4)
    counter = iter(range(10**9))

    def one() -> tuple[float, float]:
        index = next(counter)
        model = f"m-{run}-{index // 100}"
        if index % 100 == 0:
            response = client.put(
                f"/api/v1/teams/profile/models/{model}/",
                {
                    "kind": "model",
                    "owner": "profile-owner",
                    "backup_owner": "profile-backup",
                    "escalation_contact": "oncall@example.test",
                    "description": "profile model",
                },
                content_type="application/json",
            )
            assert response.status_code in (200, 201), response.content
        body = payload(model, index, run)
        started = time.process_time()
        response = client.post(
            "/api/v1/versions/",
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=idempotency_key(body),
        )
        posted = time.process_time()
        assert response.status_code == 201, response.content
        version_id = response.json()["id"]
        response = client.get(f"/api/v1/versions/{version_id}/")
        got = time.process_time()
        assert response.status_code == 200, response.content
        read = response.json()
        assert (read["checksum"], read["version"]) == (body["checksum"], body["version"])
        return posted - started, got - posted

    for _ in range(args.warmup):
        one()
    post_cpu = get_cpu = 0.0
    wall = time.perf_counter()
    for _ in range(args.n):
        post, get = one()
        post_cpu, get_cpu = post_cpu + post, get_cpu + get
    wall = time.perf_counter() - wall

    # SQL of one registration as the load makes it (a fresh model every 100 is apart).
    with CaptureQueriesContext(connection) as queries:
        post, get = one()
    statements = [q["sql"] for q in queries.captured_queries]

    print(
        f"CPU_MS per registration (n={args.n}, in process): "
        f"post={1000 * post_cpu / args.n:.2f} get={1000 * get_cpu / args.n:.2f} "
        f"total={1000 * (post_cpu + get_cpu) / args.n:.2f} "
        f"| wall {1000 * wall / args.n:.2f} ms/registration"
    )
    print(f"SQL per registration (POST + GET): {len(statements)}")
    for sql in statements:
        print(f"  {sql[:150]}")
    if args.profile:
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        for _ in range(args.profile):
            one()
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(args.sort)
        stats.print_stats(args.top)
        if args.callers:
            stats.print_callers(args.callers)
        print(f"PROFILE of {args.profile} registrations ({args.sort}, CPU time of this thread):")
        print(out.getvalue())
    print(f"# load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
