"""Production: every secret must come from the environment; no defaults, no debug."""

import base64
import re

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

# TLS ends at the reverse proxy, which must overwrite this header on every request (a client
# that reaches gunicorn directly could otherwise claim https). "off" trusts only gunicorn's
# wsgi.url_scheme (its forwarded_allow_ips) or TLS terminated by gunicorn itself.
_PROXY_SSL_HEADER = env_list("SECURE_PROXY_SSL_HEADER", ["HTTP_X_FORWARDED_PROTO", "https"])
if [item.lower() for item in _PROXY_SSL_HEADER] == ["off"]:
    SECURE_PROXY_SSL_HEADER = None
elif len(_PROXY_SSL_HEADER) == 2 and re.fullmatch(r"HTTP_[A-Z0-9_]+", _PROXY_SSL_HEADER[0]):
    SECURE_PROXY_SSL_HEADER = (_PROXY_SSL_HEADER[0], _PROXY_SSL_HEADER[1])
else:
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER must be 'HTTP_<HEADER>,<value>' "
        "(e.g. HTTP_X_FORWARDED_PROTO,https) or 'off'."
    )
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
