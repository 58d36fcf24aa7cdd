"""Settings shared by every environment. Values that differ come from the environment."""

from __future__ import annotations

import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from govboard.settings.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("GOVBOARD_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = False
SECRET_KEY = env_str("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "core.admin_site.GovboardAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI and ReDoc as pinned static files: /api/docs/ works offline, no CDN.
    "drf_spectacular_sidecar",
    "guardian",
    "simple_history",
    "django_celery_beat",
    "core",
    "registry",
    "approvals",
    "audit",
    "reports",
    "identity",
    "sso",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "govboard.urls"
WSGI_APPLICATION = "govboard.wsgi.application"
ASGI_APPLICATION = "govboard.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The embedded default is a SQLite file; DATABASE_URL switches to PostgreSQL.
_DEFAULT_SQLITE_URL = f"sqlite:///{VAR_DIR / 'govboard.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", _DEFAULT_SQLITE_URL),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat share one file: WAL lets readers run beside the writer, and
    # IMMEDIATE transactions take the write lock up front instead of failing mid-way.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    # No transaction outlives its bound silently: a lock wait, a statement or a session
    # idle inside a transaction past these limits fails with an error (a 503 problem in
    # the API) instead of holding rows locked (ADR 0010).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c lock_timeout={env_int('GOVBOARD_DB_LOCK_TIMEOUT_MS', 10_000)}"
        f" -c statement_timeout={env_int('GOVBOARD_DB_STATEMENT_TIMEOUT_MS', 60_000)}"
        " -c idle_in_transaction_session_timeout="
        f"{env_int('GOVBOARD_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 600_000)}"
    )
# Services own their transactions (see docs/adr/0001).
DATABASES["default"]["ATOMIC_REQUESTS"] = False

# Versions a lifecycle sweep handles per transaction (core.sweeps' handle_chunk): fewer
# make more, smaller commits (the JOB-2 kill test uses a handful to kill mid-sweep).
GOVBOARD_SWEEP_CHUNK = env_int("GOVBOARD_SWEEP_CHUNK", 200)

# Two roles on PostgreSQL (docs/adr/0014): DATABASE_URL is the application's runtime role,
# which owns nothing and cannot rewrite the append-only tables; DATABASE_OWNER_URL is the role
# that owns the tables, runs ``migrate`` and grants the runtime role exactly what it needs
# (``setup_database_roles``). Only its credentials are used: the database is DATABASE_URL's.
# Unset, one role does both and nothing stops it from lifting the triggers. Embedded SQLite
# has no roles: there it is ignored.
_CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")
GOVBOARD_DATABASE_OWNER: dict[str, object] = {}
GOVBOARD_DATABASE_RUNTIME: dict[str, object] = {}
# Whether startup logs that this configuration is not tamper-resistant (test.py: off).
GOVBOARD_WARN_NOT_TAMPER_RESISTANT = True
_owner_url = env_str("DATABASE_OWNER_URL", "")
if _owner_url and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _owner = dj_database_url.parse(_owner_url)
    GOVBOARD_DATABASE_OWNER = {key: _owner[key] for key in _CREDENTIALS}
    GOVBOARD_DATABASE_RUNTIME = {key: DATABASES["default"][key] for key in _CREDENTIALS}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # ModelBackend behind the sign-in lockout (docs/adr/0008): never list ModelBackend itself
    # too, or a locked account would still sign in through it.
    # While SSO is on, refuses the password of every account that is not a break-glass one
    # (first, so no password backend is asked; docs/adr/0009).
    "sso.backends.PasswordSignInGate",
    "identity.backends.LockoutModelBackend",
    # OpenID Connect login (inert while unconfigured; docs/adr/0009).
    "sso.backends.GovboardOIDCBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No migration or setting creates an account: guardian's implicit anonymous user is off.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
# The board's roles are permissions of a proxy of the team (approvals.Board): guardian must
# store them under the proxy's content type (core.team_roles, ADR 0012).
GUARDIAN_GET_CONTENT_TYPE = "core.team_roles.content_type_of"
# The model whose rows own everything team-scoped (core.permissions names no app).
GOVBOARD_TEAM_MODEL = "registry.Team"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Dates and times in the admin name their zone ("16:28 UTC"): govboard/formats/en.
FORMAT_MODULE_PATH = ["govboard.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Uploaded evidence; web and worker processes must see the same folder (or use object storage).
MEDIA_ROOT = Path(env_str("GOVBOARD_MEDIA_ROOT", str(VAR_DIR / "media")))

LOGIN_URL = "admin:login"

# Sign-in lockout (identity app, docs/adr/0008): failed passwords and one-time codes, on the
# admin login and the sign-off re-authentication, counted per account name and per client
# address within a window; at the limit, that account or address is refused (even with the
# right password) for the lockout duration (0: until an administrator unlocks it).
GOVBOARD_LOCKOUT_FAILURES = env_int("GOVBOARD_LOCKOUT_FAILURES", 5)
GOVBOARD_LOCKOUT_ADDRESS_FAILURES = env_int("GOVBOARD_LOCKOUT_ADDRESS_FAILURES", 20)
GOVBOARD_LOCKOUT_WINDOW_SECONDS = env_int("GOVBOARD_LOCKOUT_WINDOW_SECONDS", 15 * 60)
GOVBOARD_LOCKOUT_SECONDS = env_int("GOVBOARD_LOCKOUT_SECONDS", 15 * 60)
# Proxies (addresses or networks) whose X-Forwarded-For is believed; nobody's by default.
GOVBOARD_TRUSTED_PROXIES = env_list("GOVBOARD_TRUSTED_PROXIES", [])

# Single sign-on with OpenID Connect (sso app, docs/adr/0009): off while OIDC_RP_CLIENT_ID is
# empty. The authorization-code flow with PKCE and a nonce; ID tokens signed by the provider
# (RS/ES algorithm, key from its JWKS) and checked for issuer, audience and expiry.
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_ISSUER = env_str("OIDC_OP_ISSUER", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile groups")
GOVBOARD_SSO_PROVIDER_NAME = env_str("GOVBOARD_SSO_PROVIDER_NAME", "your identity provider")
GOVBOARD_SSO_GROUPS_CLAIM = env_str("GOVBOARD_SSO_GROUPS_CLAIM", "groups")
# How old an IdP re-authentication may be and still count for a sign-off (seconds).
GOVBOARD_SSO_REAUTH_MAX_AGE_SECONDS = env_int("GOVBOARD_SSO_REAUTH_MAX_AGE_SECONDS", 300)
OIDC_USE_PKCE = True
OIDC_TIMEOUT = 10
OIDC_AUTHENTICATION_CALLBACK_URL = "sso:callback"
# After any sign-in (the admin's form, SSO), ``/`` sends each person to their landing page.
LOGIN_REDIRECT_URL = "landing"
if OIDC_RP_CLIENT_ID:
    _oidc_required = {
        "OIDC_RP_CLIENT_SECRET": OIDC_RP_CLIENT_SECRET,
        "OIDC_OP_ISSUER": OIDC_OP_ISSUER,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": OIDC_OP_AUTHORIZATION_ENDPOINT,
        "OIDC_OP_TOKEN_ENDPOINT": OIDC_OP_TOKEN_ENDPOINT,
        "OIDC_OP_USER_ENDPOINT": OIDC_OP_USER_ENDPOINT,
        "OIDC_OP_JWKS_ENDPOINT": OIDC_OP_JWKS_ENDPOINT,
    }
    _oidc_missing = sorted(name for name, value in _oidc_required.items() if not value)
    if _oidc_missing:
        raise ImproperlyConfigured(f"OIDC_RP_CLIENT_ID is set: also set {', '.join(_oidc_missing)}")
    if OIDC_RP_SIGN_ALGO not in ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512"):
        raise ImproperlyConfigured("OIDC_RP_SIGN_ALGO must be an RS or ES algorithm (JWKS).")
    # Plain http only to the machine itself (a test provider); anything else is https.
    for _name, _url in _oidc_required.items():
        if _name.endswith("_ENDPOINT") and not re.match(
            r"^(https://|http://(127\.0\.0\.1|localhost|\[::1\])[:/])", _url
        ):
            raise ImproperlyConfigured(f"{_name} must be an https:// address.")

# Request bodies past this size are refused before they are parsed (HTTP 413).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("GOVBOARD_MAX_JSON_BODY", 256 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "registry.api.authentication.ServiceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["govboard.api_policy.PolicyTablePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["govboard.throttling.CredentialRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"credential": env_str("GOVBOARD_API_RATE", "6000/min")},
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.api.negotiation.JSONContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.KeysetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.ProblemAutoSchema",
    "EXCEPTION_HANDLER": "core.problems.problem_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "govboard API",
    "DESCRIPTION": "Registration, evidence and promotion for CI pipelines.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No badge fetched from validator.swagger.io: the docs make no request off the host.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "VersionStateEnum": "registry.choices.VersionState",
        "RequestStateEnum": "approvals.choices.RequestState",
        # Two choice sets share the field name "kind": name both (no W001 under --deploy).
        "ModelKindEnum": "registry.choices.ModelKind",
        "EvidenceKindEnum": "registry.choices.EvidenceKind",
        "ReleaseStateEnum": "registry.choices.ReleaseState",
        "ReleaseComponentKindEnum": "registry.choices.ReleaseComponentKind",
        "IncidentStateEnum": "approvals.choices.IncidentState",
        "IncidentSeverityEnum": "approvals.choices.IncidentSeverity",
        "IncidentSourceEnum": "approvals.choices.IncidentSource",
    },
}

# Throttle budgets live in Redis when there is one (shared by every web process).
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env_str("CACHE_URL", "") or env_str("REDIS_URL", ""),
            "TIMEOUT": 300,
            "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        }
        if env_str("CACHE_URL", "") or env_str("REDIS_URL", "")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Celery: the embedded default is kombu's filesystem transport (no server to run);
# REDIS_URL or CELERY_BROKER_URL switch to Redis. JSON only, bounded task time.
REDIS_URL = env_str("REDIS_URL", "")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_BROKER_DIR / "out"),
        "data_folder_out": str(_BROKER_DIR / "out"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    # Redis: a task not acknowledged within the visibility timeout is handed to another
    # worker, so it must outlast the longest task (govboard/checks.py refuses otherwise).
    # Bounded socket timeouts: with Redis down, a publish fails in about a second instead
    # of hanging the request that nudged it (the outbox covers the loss).
    else {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        "socket_connect_timeout": 1.0,
        "socket_timeout": 2.0,
    }
)
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
# One quick retry of a publish, not kombu's default of three: callers never wait on it.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
if CELERY_BROKER_URL.startswith("filesystem"):
    # kombu's filesystem transport with atomic message writes (govboard/broker.py).
    CELERY_BROKER_TRANSPORT = "govboard.broker:Transport"
    for _folder in ("out", "processed", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The lifecycle jobs (expiry, retirement, the stale/unowned/vulnerable rules) are not
# here: migration approvals.0013 installs them from approvals/hygiene/schedules.py as
# database rows editable in the admin, which an entry here would overwrite at each start.
CELERY_BEAT_SCHEDULE = {
    "expire-stale-requests": {
        "task": "approvals.tasks.expire_stale_requests",
        "schedule": 3600.0,
    },
    # Promotion requests are their own outbox: re-enqueue checks that never ran.
    "requeue-stuck-checks": {
        "task": "approvals.tasks.requeue_stuck_checks",
        "schedule": 60.0,
    },
    # Relay the outbox: committed webhook deliveries, lost retries and email notifications.
    "dispatch-webhooks": {
        "task": "approvals.tasks.relay_outbox",
        "schedule": 30.0,
    },
    # Seal committed audit rows into the transparency log and sign a tree head (ADR 0013).
    "seal-audit-log": {
        "task": "audit.tasks.seal_audit_log",
        "schedule": 60.0,
    },
}
# Notifications: Django's email backend (SMTP by default; local.py prints to the console).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Bounded: the relay sends outside any transaction, but a hung server must not hold it.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "govboard@localhost")
# A request still in review this many days after its due date expires (CI resubmits).
GOVBOARD_REVIEW_GRACE_DAYS = env_int("GOVBOARD_REVIEW_GRACE_DAYS", 14)
# Requests waiting in submitted/checking longer than this are enqueued again.
GOVBOARD_CHECKS_STUCK_MINUTES = env_int("GOVBOARD_CHECKS_STUCK_MINUTES", 5)
# The automated checks run in a Celery worker (enqueued after the submit commits). Setting
# this runs them inside the submit transaction instead (a single-process deployment).
GOVBOARD_RUN_CHECKS_INLINE = env_bool("GOVBOARD_RUN_CHECKS_INLINE", False)
# Local directories whose file:// artifacts the checks may read, hash and scan.
GOVBOARD_ARTIFACT_ROOTS = env_list("GOVBOARD_ARTIFACT_ROOTS", [])

GOVBOARD_ALLOWED_STORAGE_SCHEMES = env_list(
    "GOVBOARD_ALLOWED_STORAGE_SCHEMES", ["s3", "gs", "az", "https", "file"]
)
# Base64 of the 32-byte Ed25519 seed that signs decision records (production requires it).
GOVBOARD_SIGNING_KEY = env_str("GOVBOARD_SIGNING_KEY", "")
# Where signed tree heads of the audit log are kept outside the database (append-only);
# only file:// (a directory) is implemented, an object store is the production choice.
GOVBOARD_AUDIT_HEADS_URL = env_str("GOVBOARD_AUDIT_HEADS_URL", f"file://{VAR_DIR / 'audit-heads'}")
# A witness that is POSTed every new signed tree head (off when empty).
GOVBOARD_AUDIT_WITNESS_URL = env_str("GOVBOARD_AUDIT_WITNESS_URL", "")
# Evidence uploads larger than this are refused with 413 before anything is stored.
GOVBOARD_MAX_EVIDENCE_BYTES = env_int("GOVBOARD_MAX_EVIDENCE_BYTES", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FILES = 5
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# Where people reach this service (printed by the demo loader, used in links).
GOVBOARD_PUBLIC_URL = env_str("GOVBOARD_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
GOVBOARD_DEMO = env_bool("GOVBOARD_DEMO", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
