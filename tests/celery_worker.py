"""How tests start a real Celery worker process: one command line and one environment,
pointed at the test database and a broker the test names."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: One solo worker, no cluster chatter: starts in seconds and runs tasks one at a time.
WORKER_COMMAND = [
    sys.executable,
    "-m",
    "celery",
    "-A",
    "govboard",
    "worker",
    "--pool=solo",
    "--concurrency=1",
    "--without-heartbeat",
    "--without-gossip",
    "--without-mingle",
    "--loglevel=WARNING",
]


def worker_env(*, broker_url: str, database: dict[str, Any] | None = None, **extra: str) -> dict:
    """The environment of a worker on ``broker_url`` (and the test database, if given),
    under the local settings; ``extra`` adds or overrides variables."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "govboard.settings.local"}
    env["CELERY_BROKER_URL"] = broker_url
    if database is not None:
        db = database
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        env.pop("DATABASE_OWNER_URL", None)
    return {**env, **extra}
