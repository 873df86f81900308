"""Settings for every environment. Differences come from environment variables (API.md §6);
there is no per-environment settings file. A bad value stops start-up with a clear message
naming the variable: `env_bool("DEBUG")` refuses "maybe" instead of reading it as False."""

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bad(name, raw, expected):
    return ImproperlyConfigured(f"{name}={raw!r} is not valid: expected {expected}")


def env_bool(name: str, *, default: bool) -> bool:
    raw = env.str(name, default=None)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise _bad(name, raw, "one of 1/0, true/false, yes/no, on/off")


def env_int(name: str, *, default: int, min_value: int | None = None, max_value=None) -> int:
    raw = env.str(name, default=None)
    if raw is None or raw.strip() == "":
        value = default
    else:
        try:
            value = int(raw.strip())
        except ValueError:
            raise _bad(name, raw, "a whole number") from None
    if (min_value is not None and value < min_value) or (
        max_value is not None and value > max_value
    ):
        bounds = " ".join(
            part
            for part in (
                f">= {min_value}" if min_value is not None else "",
                f"<= {max_value}" if max_value is not None else "",
            )
            if part
        )
        raise _bad(name, raw, f"a whole number {bounds}")
    return value


def env_float(name: str, *, default: float, min_value: float, max_value: float) -> float:
    raw = env.str(name, default=None)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise _bad(name, raw, "a number") from None
    if not min_value <= value <= max_value:  # also refuses nan
        raise _bad(name, raw, f"a number from {min_value} to {max_value}")
    return value


def env_choice(name: str, *, default: str, choices) -> str:
    value = env.str(name, default=default).strip()
    if value not in choices:
        raise _bad(name, value, "one of " + ", ".join(choices))
    return value


def env_url(name: str, parse, *, default: str) -> dict:
    """DATABASE_URL / CACHE_URL through django-environ, with its KeyErrors and odd messages
    turned into one that names the variable."""
    raw = env.str(name, default=default)
    schemes = environ.Env.DB_SCHEMES if parse == env.db else environ.Env.CACHE_SCHEMES
    if raw.partition("://")[0] not in schemes:
        raise _bad(name, raw, "a URL with one of the schemes " + ", ".join(sorted(schemes)))
    try:
        return parse(name, default=default)
    except (ImproperlyConfigured, KeyError, ValueError) as exc:
        raise _bad(name, raw, f"a supported URL ({exc})") from None


DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (or in .env), or set DEBUG=1 "
            "for local development. `make run` creates one under var/ for you."
        )
    SECRET_KEY = "insecure-development-only-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PORT = env_int("PORT", default=8000, min_value=1, max_value=65535)

INSTALLED_APPS = [
    "config.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    "accounts",
    "phone_numbers",
    "orders",
    "webhooks",
]

MIDDLEWARE = [
    "api.middleware.RequestIdMiddleware",
    "api.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

# --- Database -----------------------------------------------------------------------------------
DATABASES = {
    "default": env_url("DATABASE_URL", env.db, default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default is shared by the web server, a worker and beat. WAL lets readers run
    # beside the writer, IMMEDIATE transactions take the write lock up front (so two writers
    # serialize instead of deadlocking on a lock upgrade), and the timeout makes a writer wait
    # for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", default=60, min_value=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
        # An unreachable server fails a request (503) or /readyz in seconds, not after the
        # operating system's TCP timeout. `?connect_timeout=N` in DATABASE_URL overrides it.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")

# --- Cache (rate-limit counters shared by every web process) -------------------------------------
CACHES = {"default": env_url("CACHE_URL", env.cache, default=f"filecache://{VAR_DIR / 'cache'}")}

# --- Auth, i18n, static ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Security (manage.py check --deploy is clean with production-like values) --------------------
# Trust X-Forwarded-Proto only behind a TLS-terminating proxy that sets it (and strips any
# value a client sent); otherwise a client could claim a plain-HTTP request is secure.
if env_bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=0, min_value=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# The API reads bodies itself with a hard 1 MiB cap (api.middleware); this caps forms.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
API_MAX_BODY_BYTES = 1024 * 1024

# --- REST framework -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasRequiredScope"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.AlwaysJSON",
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "api.pagination.KeysetPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

# --- Celery ---------------------------------------------------------------------------------------
# "localhost" only to keep kombu from warning "no hostname" on every connection.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    # The embedded broker is a folder of message files shared by web, worker and beat.
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        # kombu's default is ./control, relative to wherever the process was started.
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    # Longer than any countdown we schedule, so Redis never re-delivers a task that is merely
    # waiting for its ETA in a worker (acks are late: see below).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 60 * 60}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# A worker killed mid-task loses nothing: the message is acknowledged only when the task has
# finished, and a task whose worker died is put back on the queue. Tasks are idempotent.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {}

# --- Domain settings ------------------------------------------------------------------------------
NUMBER_QUARANTINE_DAYS = env_int("NUMBER_QUARANTINE_DAYS", default=30, min_value=0, max_value=3650)
BULK_ORDER_MAX_QUANTITY = env_int(
    "BULK_ORDER_MAX_QUANTITY", default=1000, min_value=1, max_value=100_000
)
IDEMPOTENCY_KEY_TTL_HOURS = env_int(
    "IDEMPOTENCY_KEY_TTL_HOURS", default=24, min_value=1, max_value=24 * 365
)
CARRIER_BACKEND = env_choice("CARRIER_BACKEND", default="simulated", choices=["simulated"])
SIMULATED_CARRIER_DELAY_SECONDS = env_float(
    "SIMULATED_CARRIER_DELAY_SECONDS", default=2.0, min_value=0.0, max_value=3600.0
)
SIMULATED_CARRIER_FAILURE_RATE = env_float(
    "SIMULATED_CARRIER_FAILURE_RATE", default=0.0, min_value=0.0, max_value=1.0
)
SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES = env.list(
    "SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES", default=[]
)
if not all(
    re.fullmatch(r"[2-9][0-9]{2}", code) for code in SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES
):
    raise ImproperlyConfigured(
        "SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES must be comma-separated 3-digit area codes"
    )
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=False)

# --- Logging: one JSON object per line, with the request id bound (api.logging) ---------------
LOG_LEVEL = env_choice(
    "LOG_LEVEL", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "structlog.stdlib.ProcessorFormatter",
            "processor": "ext://api.logging.json_renderer",
            "foreign_pre_chain": "ext://api.logging.FOREIGN_PRE_CHAIN",
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Our exception handler logs unhandled errors with the request id; Django's own
        # request logger would log 4xx answers as warnings a second time.
        "django.request": {"level": "ERROR"},
    },
}

# --- Back office ----------------------------------------------------------------------------------
# Organizations whose available credit is below this are listed on the staff dashboard.
LOW_CREDIT_THRESHOLD_CENTS = env.int("LOW_CREDIT_THRESHOLD_CENTS", default=1000)
# The most a support user (staff, not superuser) may top up or adjust in one ledger line,
# in absolute value; superusers are not limited by it.
SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS = env.int(
    "SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS", default=10_000
)
if SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS < 0:
    raise ImproperlyConfigured("SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS must be >= 0")

# --- Bulk orders: fulfilment of backorders (issue #4) ---------------------------------------------
# A processing order with no progress for this long is resumed by the periodic sweeper (a lost
# message never leaves an order stuck). Keep it above the longest carrier re-check countdown
# (orders.tasks.MAX_RECHECK_SECONDS, 300 s) so healthy orders are not resumed needlessly.
BULK_ORDER_STALL_SECONDS = env.int("BULK_ORDER_STALL_SECONDS", default=600)
BULK_ORDER_SWEEP_SECONDS = env.int("BULK_ORDER_SWEEP_SECONDS", default=60)
if BULK_ORDER_STALL_SECONDS < 1 or BULK_ORDER_SWEEP_SECONDS < 1:
    raise ImproperlyConfigured("BULK_ORDER_STALL_SECONDS and BULK_ORDER_SWEEP_SECONDS must be >= 1")
CELERY_BEAT_SCHEDULE["resume-stalled-bulk-orders"] = {
    "task": "orders.tasks.resume_stalled_bulk_orders",
    "schedule": BULK_ORDER_SWEEP_SECONDS,
}

# --- Idempotency keys (orders/idempotency.py) ----------------------------------------------------
CELERY_BEAT_SCHEDULE["purge-expired-idempotency-keys"] = {
    "task": "orders.tasks.purge_expired_idempotency_keys",
    "schedule": 15 * 60,
}

# --- Webhooks (issue #8, API.md §5) ------------------------------------------------------------
# WEBHOOKS_ALLOW_PRIVATE_TARGETS is defined above with the domain settings.
# Retries of a failed delivery stop this long after the event (a staff redelivery opens a new
# window); the delay before attempt n+1 is min(max, base * 2^(n-1)), half of it random.
WEBHOOKS_RETRY_WINDOW_HOURS = env.int("WEBHOOKS_RETRY_WINDOW_HOURS", default=24)
WEBHOOKS_RETRY_BASE_SECONDS = env.int("WEBHOOKS_RETRY_BASE_SECONDS", default=30)
WEBHOOKS_RETRY_MAX_DELAY_SECONDS = env.int("WEBHOOKS_RETRY_MAX_DELAY_SECONDS", default=3600)
if WEBHOOKS_RETRY_WINDOW_HOURS < 1 or WEBHOOKS_RETRY_BASE_SECONDS < 1:
    raise ImproperlyConfigured("WEBHOOKS_RETRY_WINDOW_HOURS and _BASE_SECONDS must be >= 1")
if not WEBHOOKS_RETRY_BASE_SECONDS <= WEBHOOKS_RETRY_MAX_DELAY_SECONDS <= 6 * 60 * 60:
    # Above 6 hours a Redis broker would redeliver the waiting message (visibility_timeout).
    raise ImproperlyConfigured("WEBHOOKS_RETRY_MAX_DELAY_SECONDS must be between base and 21600")
CELERY_BEAT_SCHEDULE["webhooks-enqueue-overdue"] = {
    "task": "webhooks.tasks.enqueue_overdue_webhooks",
    "schedule": 300.0,
}

# --- Hardening: rate limits and the OpenAPI schema (issue 9; docs/api.md) -----------------------
# Write requests (POST, PATCH, DELETE) per organization per window; 0 disables the limit. The
# counter lives in the cache above (api.ratelimit explains its tolerance per backend).
RATE_LIMIT_WRITES_PER_MINUTE = env.int("RATE_LIMIT_WRITES_PER_MINUTE", default=600)
RATE_LIMIT_WINDOW_SECONDS = env.int("RATE_LIMIT_WINDOW_SECONDS", default=60)
if RATE_LIMIT_WRITES_PER_MINUTE < 0:
    raise ImproperlyConfigured("RATE_LIMIT_WRITES_PER_MINUTE must be 0 (off) or positive")
if not 1 <= RATE_LIMIT_WINDOW_SECONDS <= 3600:
    raise ImproperlyConfigured("RATE_LIMIT_WINDOW_SECONDS must be between 1 and 3600")
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["api.ratelimit.OrganizationWriteThrottle"]
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "api.schema.EnvelopeAutoSchema"
# OPTIONS would answer DRF's metadata outside the envelope; it is 405 like any unserved method.
REST_FRAMEWORK["DEFAULT_METADATA_CLASS"] = None

SPECTACULAR_SETTINGS = {
    "TITLE": "Phone numbers API",
    "DESCRIPTION": (
        "Search, order and manage US phone numbers. Every response is an envelope: "
        '`{"success": true, "data": ..., "meta"?}` or `{"success": false, "error": {"code", '
        '"message", "request_id", "details"?}}`. Conventions: /docs/ and docs/api.md.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "PREPROCESSING_HOOKS": ["api.schema.only_api_routes"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_shared_components",
    ],
    # One name for the number-type choices, whichever field or filter declares them.
    "ENUM_NAME_OVERRIDES": {"NumberTypeEnum": "phone_numbers.numbering.NUMBER_TYPES"},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "displayOperationId": False},
}

# --- Owned numbers: end of quarantine (issue #6) -------------------------------------------------
# NUMBER_QUARANTINE_DAYS is defined above with the domain settings. Released numbers whose
# quarantine has ended go back to inventory when the sweeper next runs, so a number can stay
# quarantined up to this many seconds longer than NUMBER_QUARANTINE_DAYS.
NUMBER_QUARANTINE_SWEEP_SECONDS = env_int(
    "NUMBER_QUARANTINE_SWEEP_SECONDS", default=300, min_value=1, max_value=24 * 60 * 60
)
# Numbers per UPDATE (one short transaction each) of the sweeper.
NUMBER_QUARANTINE_SWEEP_BATCH_SIZE = env_int(
    "NUMBER_QUARANTINE_SWEEP_BATCH_SIZE", default=1000, min_value=1, max_value=100_000
)
CELERY_BEAT_SCHEDULE["end-number-quarantines"] = {
    "task": "phone_numbers.tasks.end_quarantines",
    "schedule": NUMBER_QUARANTINE_SWEEP_SECONDS,
}

# --- Benchmarks (issue #10, benchmarks/, docs/benchmarks.md) --------------------------------------
# BENCH_QUERY_COUNT=1 answers every request's SQL statement count in X-Bench-Query-Count. Only
# `make bench` sets it; never in production.
if env_bool("BENCH_QUERY_COUNT", default=False):
    MIDDLEWARE.insert(0, "benchmarks.middleware.QueryCountMiddleware")
