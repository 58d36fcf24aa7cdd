"""Test runs: real PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set, else SQLite."""

from govboard.settings.base import *  # noqa: F403
from govboard.settings.base import DATABASES

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

MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
# With two roles (DATABASE_OWNER_URL), the suite connects as the owner, which creates the
# test database and flushes it; the runtime role's refusals are tested on connections of
# their own (tests/audit/test_runtime_role.py, ADR 0014).
if GOVBOARD_DATABASE_OWNER:  # noqa: F405
    DATABASES["default"].update(GOVBOARD_DATABASE_OWNER)  # noqa: F405
# The suite runs on SQLite or one role on purpose: no startup warning in every test run.
GOVBOARD_WARN_NOT_TAMPER_RESISTANT = False
