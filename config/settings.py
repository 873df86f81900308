"""Settings for every environment, one concern after another. Differences come from
environment variables (API.md §6; README: Settings), read through config.env's strict parsers:
a bad value stops start-up with a message naming the variable. There is no per-environment
settings file."""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_area_codes,
    env_bool,
    env_cache,
    env_choice,
    env_database,
    env_float,
    env_int,
    env_list,
    env_str,
    read_env_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
read_env_file(BASE_DIR / ".env")

# --- Core -----------------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (or in .env), or set DEBUG=1 "
            "for local development. `make run` creates one under var/ for you."
        )
    SECRET_KEY = "insecure-development-only-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])
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
    # Ours, bottom layer first (README: Layout).
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
# BENCH_QUERY_COUNT=1 answers every request's SQL statement count in X-Bench-Query-Count. Only
# `make bench` sets it (docs/benchmarks.md); never in production.
if env_bool("BENCH_QUERY_COUNT", default=False):
    MIDDLEWARE.insert(0, "benchmarks.middleware.QueryCountMiddleware")

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
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {"default": env_database("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
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
if IS_POSTGRES:
    # An unreachable server fails a request (503) or /readyz in seconds, not after the
    # operating system's TCP timeout. `?connect_timeout=N` in DATABASE_URL overrides it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: rate-limit counters shared by every web process ---------------------------------------
CACHES = {"default": env_cache("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}

# --- Security (manage.py check --deploy is clean with production-like values) ---------------------
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

# --- The API: REST framework, rate limits, the OpenAPI schema (docs/api.md) -----------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasRequiredScope"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.AlwaysJSON",
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "api.pagination.KeysetPagination",
    "DEFAULT_THROTTLE_CLASSES": ["api.ratelimit.OrganizationWriteThrottle"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.EnvelopeAutoSchema",
    # OPTIONS would answer DRF's metadata outside the envelope; it is 405 like any unserved
    # method.
    "DEFAULT_METADATA_CLASS": None,
    "UNAUTHENTICATED_USER": None,
}
# Write requests (POST, PATCH, DELETE) per organization per window; 0 disables the limit. The
# counter lives in the cache above (api.ratelimit explains its tolerance per backend).
RATE_LIMIT_WRITES_PER_MINUTE = env_int("RATE_LIMIT_WRITES_PER_MINUTE", default=600, min_value=0)
RATE_LIMIT_WINDOW_SECONDS = env_int(
    "RATE_LIMIT_WINDOW_SECONDS", default=60, min_value=1, max_value=3600
)
IDEMPOTENCY_KEY_TTL_HOURS = env_int(
    "IDEMPOTENCY_KEY_TTL_HOURS", default=24, min_value=1, max_value=24 * 365
)

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
    "PREPROCESSING_HOOKS": ["api.schema.hooks.only_api_routes"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.hooks.add_shared_components",
    ],
    # One name for the number-type choices, whichever field or filter declares them.
    "ENUM_NAME_OVERRIDES": {"NumberTypeEnum": "phone_numbers.numbering.NUMBER_TYPES"},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "displayOperationId": False},
}

# --- Inventory and owned numbers (docs/inventory.md, docs/owned-numbers.md) -----------------------
NUMBER_QUARANTINE_DAYS = env_int("NUMBER_QUARANTINE_DAYS", default=30, min_value=0, max_value=3650)
# Released numbers whose quarantine has ended go back to inventory when the sweeper next runs,
# so a number can stay quarantined up to this many seconds longer than NUMBER_QUARANTINE_DAYS.
NUMBER_QUARANTINE_SWEEP_SECONDS = env_int(
    "NUMBER_QUARANTINE_SWEEP_SECONDS", default=300, min_value=1, max_value=24 * 60 * 60
)
# Numbers per UPDATE (one short transaction each) of the sweeper.
NUMBER_QUARANTINE_SWEEP_BATCH_SIZE = env_int(
    "NUMBER_QUARANTINE_SWEEP_BATCH_SIZE", default=1000, min_value=1, max_value=100_000
)
# Reservations (API.md §2.2): numbers one organization may hold at once in unexpired
# reservations, so one customer cannot freeze the stock.
RESERVATION_MAX_ACTIVE_NUMBERS = env_int(
    "RESERVATION_MAX_ACTIVE_NUMBERS", default=1000, min_value=1, max_value=1_000_000
)
# The tidy task writes expired reservations down and clears their numbers' hold columns. Expiry
# itself needs no task: every claim compares the expiry time.
RESERVATION_TIDY_SECONDS = env_int(
    "RESERVATION_TIDY_SECONDS", default=300, min_value=1, max_value=24 * 60 * 60
)

# --- Carrier (API.md §6; docs/carriers.md) --------------------------------------------------------
CARRIER_BACKEND = env_choice("CARRIER_BACKEND", default="simulated", choices=["simulated"])
SIMULATED_CARRIER_DELAY_SECONDS = env_float(
    "SIMULATED_CARRIER_DELAY_SECONDS", default=2.0, min_value=0.0, max_value=3600.0
)
SIMULATED_CARRIER_FAILURE_RATE = env_float(
    "SIMULATED_CARRIER_FAILURE_RATE", default=0.0, min_value=0.0, max_value=1.0
)
SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES = env_area_codes(
    "SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES"
)

# --- Bulk orders and their fulfilment (docs/bulk-orders.md) ---------------------------------------
BULK_ORDER_MAX_QUANTITY = env_int(
    "BULK_ORDER_MAX_QUANTITY", default=1000, min_value=1, max_value=100_000
)
# A processing order with no progress for this long is resumed by the periodic sweeper (a lost
# message never leaves an order stuck). Keep it above the longest carrier re-check countdown
# (orders.tasks.MAX_RECHECK_SECONDS, 300 s) so healthy orders are not resumed needlessly.
BULK_ORDER_STALL_SECONDS = env_int("BULK_ORDER_STALL_SECONDS", default=600, min_value=1)
BULK_ORDER_SWEEP_SECONDS = env_int("BULK_ORDER_SWEEP_SECONDS", default=60, min_value=1)

# --- Webhooks (API.md §5; docs/webhooks.md) -------------------------------------------------------
# Plain http:// and private, loopback or link-local targets: local development and tests only.
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=False)
# Retries of a failed delivery stop this long after the event (a staff redelivery opens a new
# window); the delay before attempt n+1 is min(max, base * 2^(n-1)), half of it random.
WEBHOOKS_RETRY_WINDOW_HOURS = env_int("WEBHOOKS_RETRY_WINDOW_HOURS", default=24, min_value=1)
WEBHOOKS_RETRY_BASE_SECONDS = env_int("WEBHOOKS_RETRY_BASE_SECONDS", default=30, min_value=1)
# At most 6 hours: above it a Redis broker would redeliver the waiting message
# (visibility_timeout, below).
WEBHOOKS_RETRY_MAX_DELAY_SECONDS = env_int(
    "WEBHOOKS_RETRY_MAX_DELAY_SECONDS",
    default=3600,
    min_value=WEBHOOKS_RETRY_BASE_SECONDS,
    max_value=6 * 60 * 60,
)

# --- Back office (docs/backoffice.md) -------------------------------------------------------------
# Organizations whose available credit is below this are listed on the staff dashboard.
LOW_CREDIT_THRESHOLD_CENTS = env_int("LOW_CREDIT_THRESHOLD_CENTS", default=1000)
# The most a support user (staff, not superuser) may top up or adjust in one ledger line,
# in absolute value; superusers are not limited by it.
SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS = env_int(
    "SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS", default=10_000, min_value=0
)

# --- Celery: broker, delivery guarantees, the periodic tasks --------------------------------------
# "localhost" only to keep kombu from warning "no hostname" on every connection.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", default="filesystem://localhost//")
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
CELERY_BEAT_SCHEDULE = {
    "resume-stalled-bulk-orders": {
        "task": "orders.tasks.resume_stalled_bulk_orders",
        "schedule": BULK_ORDER_SWEEP_SECONDS,
    },
    "purge-expired-idempotency-keys": {
        "task": "api.tasks.purge_expired_idempotency_keys",
        "schedule": 15 * 60,
    },
    "webhooks-enqueue-overdue": {
        "task": "webhooks.tasks.enqueue_overdue_webhooks",
        "schedule": 300.0,
    },
    "end-number-quarantines": {
        "task": "phone_numbers.tasks.end_quarantines",
        "schedule": NUMBER_QUARANTINE_SWEEP_SECONDS,
    },
    "tidy-expired-reservations": {
        "task": "phone_numbers.tasks.tidy_expired_reservations",
        "schedule": RESERVATION_TIDY_SECONDS,
    },
}

# --- Logging: one JSON object per line, with the request id bound (api.logging) -------------------
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
