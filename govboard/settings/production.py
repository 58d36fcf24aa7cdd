"""Production: every secret must come from the environment; no defaults, no debug."""

import base64

from django.core.exceptions import ImproperlyConfigured

from govboard.settings.base import *  # noqa: F403
from govboard.settings.env import env_bool, env_int, env_list, env_str

DEBUG = False
SECRET_KEY = env_str("SECRET_KEY")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith(("local-", "test-", "django-insecure")):
    raise ImproperlyConfigured("SECRET_KEY must be a real secret of at least 50 characters.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names this service answers.")

GOVBOARD_SIGNING_KEY = env_str("GOVBOARD_SIGNING_KEY")
try:
    if len(base64.b64decode(GOVBOARD_SIGNING_KEY, validate=True)) != 32:
        raise ValueError
except ValueError as exc:
    raise ImproperlyConfigured("GOVBOARD_SIGNING_KEY must be base64 of a 32-byte seed.") from exc

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
