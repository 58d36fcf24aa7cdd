"""Test runs: real PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set, else SQLite."""

import os
from urllib.parse import urlsplit, urlunsplit


def _worker_redis_url(url: str, worker: int) -> str:
    """``url`` moved ``worker`` Redis databases up: parallel test workers (pytest-xdist)
    must not share throttle counters, revocation keys or a broker queue, whose tasks a real
    worker started by one test would otherwise take from another's."""
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + worker
    if database > 15:
        raise RuntimeError(
            f"{url} leaves no Redis database for test worker {worker}: use a lower database "
            "number or fewer workers (-n)."
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


# pytest-xdist names its workers gw0, gw1, …; each gets its own test database (pytest-django
# suffixes the name), and here its own Redis database and media directory. Set in the
# environment, so that a worker or server process a test starts inherits them too.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_WORKER_INDEX = int(_WORKER.removeprefix("gw")) if _WORKER.startswith("gw") else 0
for _name in ("REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL"):
    if os.environ.get(_name, "").startswith("redis") and _WORKER_INDEX:
        os.environ[_name] = _worker_redis_url(os.environ[_name], _WORKER_INDEX)

from govboard.settings.base import *  # noqa: E402, F403
from govboard.settings.base import DATABASES  # noqa: E402

SECRET_KEY = "test-only-not-a-secret"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Tasks sent with .delay() run in the sending process: the on-commit dispatch path is the
# real one, without a worker. Tests that depend on a worker start a real one.
CELERY_TASK_ALWAYS_EAGER = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

MEDIA_ROOT = BASE_DIR / "var" / "test-media" / (_WORKER or "main")  # noqa: F405
# With two roles (DATABASE_OWNER_URL), the suite connects as the owner, which creates the
# test database and flushes it; the runtime role's refusals are tested on connections of
# their own (tests/audit/test_runtime_role.py, ADR 0014).
if GOVBOARD_DATABASE_OWNER:  # noqa: F405
    DATABASES["default"].update(GOVBOARD_DATABASE_OWNER)  # noqa: F405
# The suite runs on SQLite or one role on purpose: no startup warning in every test run.
GOVBOARD_WARN_NOT_TAMPER_RESISTANT = False
