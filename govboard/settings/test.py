"""Test runs: real PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set, else SQLite."""

from govboard.settings.base import *  # noqa: F403
from govboard.settings.base import DATABASES

SECRET_KEY = "test-only-not-a-secret"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["CONN_MAX_AGE"] = 0
CELERY_TASK_ALWAYS_EAGER = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
