"""The registration scenario of ``profile_registration.py`` (POST with the complete metadata
and an ``Idempotency-Key``, then the read-back GET), paced for callgrind (issue 14).

Not a test. ``instructions_per_registration.sh`` runs this under ``valgrind --tool=callgrind
--instr-atstart=no`` and switches counting on and off from outside: it warms up (30
registrations), prints ``READY`` and waits for a line on stdin, runs ``N`` registrations,
prints ``DONE`` and waits again. Instructions are counted, not seconds, so the figure is
the same run after run whatever else the machine does (the CPU time of a 2-vCPU box shared
with PostgreSQL and test runs moves by 20 % between identical runs). It counts this Python
process only -- Django, DRF, psycopg, redis-py and our code, not PostgreSQL or Redis.
"""

from __future__ import annotations

import itertools
import os
import runpy
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROFILE = runpy.run_path(str(ROOT / "bench" / "profile_registration.py"), run_name="bench")


def main() -> None:
    PROFILE["_production_environment"]()
    import django

    django.setup()
    from django.test import Client

    count = int(os.environ.get("N", "100"))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {PROFILE['fixtures']()}")
    run = secrets.token_hex(4)
    counter = itertools.count()

    def one() -> None:
        index = next(counter)
        model = f"m-{run}-{index // 1000}"
        if index % 1000 == 0:
            response = client.put(
                f"/api/v1/teams/profile/models/{model}/",
                {
                    "kind": "model",
                    "owner": "profile-owner",
                    "backup_owner": "profile-backup",
                    "escalation_contact": "oncall@example.test",
                    "description": "callgrind model",
                },
                content_type="application/json",
            )
            assert response.status_code in (200, 201), response.content
        body = PROFILE["payload"](model, index + 1, run)
        response = client.post(
            "/api/v1/versions/",
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=PROFILE["idempotency_key"](body),
        )
        assert response.status_code == 201, response.content
        response = client.get(f"/api/v1/versions/{response.json()['id']}/")
        assert response.status_code == 200, response.content

    for _ in range(30):
        one()
    print("READY", flush=True)
    sys.stdin.readline()
    for _ in range(count):
        one()
    print("DONE", flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    main()
