"""Settings for every environment, one concern after another. Differences come from
environment variables (API.md §6; README: Settings), read through config.env's strict parsers:
a bad value stops start-up with a message naming the variable. There is no per-environment
settings file."""

import base64
import binascii
import re
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from config.env import (
    env_area_codes,
    env_bool,
    env_cache,
    env_choice,
    env_database,
    env_float,
    env_int,
    env_int_list,
    env_list,
    env_str,
    read_env_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
read_env_file(BASE_DIR / ".env")

# --- Core -----------------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", default=False)
# SECRET_KEY from the environment; else the key file `make run` writes (var/secret_key, 0600),
# so every command of a local checkout (a second terminal, createsuperuser) uses the same key
# as the server with nothing exported; else, with DEBUG only, a fixed development key. A
# deployment has no var/secret_key, so a missing SECRET_KEY still stops it.
SECRET_KEY_FILE = Path(env_str("SECRET_KEY_FILE", default=str(VAR_DIR / "secret_key")))
SECRET_KEY = env_str("SECRET_KEY", default="")
if not SECRET_KEY and SECRET_KEY_FILE.is_file():
    SECRET_KEY = SECRET_KEY_FILE.read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (or in .env), or run `make run` "
            "once (it writes var/secret_key), or set DEBUG=1 for local development."
        )
    SECRET_KEY = "insecure-development-only-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# The host name the back office is served on (docs/backoffice.md). Set: /admin/ answers only
# on this host (404 on every other), and this host serves nothing but /admin/, its static
# files and the health checks (config.middleware.AdminHostMiddleware). Unset: one host for all.
ADMIN_HOST = env_str("ADMIN_HOST", default="").strip().lower()
if ADMIN_HOST and ADMIN_HOST not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(ADMIN_HOST)
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
    # The back office's login throttling and second factor (docs/backoffice.md).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Ours, bottom layer first (README: Layout).
    "api",
    "accounts",
    "phone_numbers",
    "orders",
    "webhooks",
]

MIDDLEWARE = [
    "api.middleware.RequestIdMiddleware",
    "api.middleware.ApiNoStoreMiddleware",
    "api.middleware.ContentSecurityPolicyMiddleware",
    "api.middleware.BodySizeLimitMiddleware",
    "config.middleware.AdminHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
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
    # Django's backend, with a health check that polls the socket instead of running SELECT 1
    # on every request (config/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "config.postgresql"
    # An unreachable server fails a request (503) or /readyz in seconds, not after the
    # operating system's TCP timeout. `?connect_timeout=N` in DATABASE_URL overrides it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    # Behind PgBouncer in transaction mode (README: Running on several machines) a named,
    # server-side cursor does not outlive its transaction, so QuerySet.iterator() reads
    # client-side. Parameters stay bound client-side (Django's default: no server_side_binding),
    # so psycopg never prepares a statement the pooler could hand to another connection.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool(
        "PGBOUNCER_TRANSACTION_MODE", default=False
    )
    # Issue 20 lever, off by default (docs/benchmarks.md has what it measured). Keep it off
    # behind PgBouncer, which pools server connections itself.
    # DATABASE_POOL_SIZE=n: Django's native psycopg pool, n connections per process shared by
    # its threads (gthread); connections go back to the pool after each request instead of
    # staying with their thread, so the per-request health check (SELECT 1) is not needed.
    pool_size = env_int("DATABASE_POOL_SIZE", default=0, min_value=0, max_value=100)
    if pool_size:
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": pool_size,
            "timeout": 10,  # seconds a request waits for a free connection, then 503
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django must not
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
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
# Every route refuses a body over 1 MiB by its Content-Length before reading it
# (api.middleware.BodySizeLimitMiddleware; the admin's CSV import has its own larger cap); the
# API's JSON parser enforces it again while reading. One file per upload, at most.
MAX_REQUEST_BODY_BYTES = 1024 * 1024
API_MAX_BODY_BYTES = MAX_REQUEST_BODY_BYTES
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FILES = 1
# Content-Security-Policy (api.middleware.ContentSecurityPolicyMiddleware). HTML pages load
# scripts, styles and images from this origin only; the admin's and Swagger UI's inline style
# attributes need 'unsafe-inline' for styles (never for scripts). JSON answers allow nothing.
CSP_HTML_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
CSP_DEFAULT_POLICY = "default-src 'none'; frame-ancestors 'none'"

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
    "GET_LIB_DOC_EXCLUDES": "api.schema.doc_excludes",
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
CARRIER_BACKEND = env_choice(
    "CARRIER_BACKEND", default="simulated", choices=["simulated", "telnyx"]
)
# Every carrier: at most this many upstream placements per bulk order (the first, then top-ups
# after a partial or failed one), and how long its capacity answer is cached per (type, area).
CARRIER_MAX_PLACEMENTS = env_int("CARRIER_MAX_PLACEMENTS", default=3, min_value=1, max_value=20)
CARRIER_COVERAGE_CACHE_SECONDS = env_int(
    "CARRIER_COVERAGE_CACHE_SECONDS", default=30, min_value=0, max_value=3600
)
CARRIER_WEBHOOK_MAX_BODY_BYTES = env_int(
    "CARRIER_WEBHOOK_MAX_BODY_BYTES", default=256 * 1024, min_value=1024, max_value=10 * 2**20
)
# Telnyx (API.md §6.1).
TELNYX_API_KEY = env_str("TELNYX_API_KEY", default="").strip()
TELNYX_API_BASE_URL = env_str("TELNYX_API_BASE_URL", default="https://api.telnyx.com/v2").strip()
TELNYX_PUBLIC_KEY = env_str("TELNYX_PUBLIC_KEY", default="").strip()
TELNYX_TIMEOUT_SECONDS = env_float(
    "TELNYX_TIMEOUT_SECONDS", default=10.0, min_value=0.1, max_value=120.0
)
if CARRIER_BACKEND == "telnyx":
    if not TELNYX_API_KEY:
        raise ImproperlyConfigured(
            "TELNYX_API_KEY is not set: CARRIER_BACKEND=telnyx needs the API key of the Telnyx "
            "account (Mission Control > API Keys)"
        )
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", TELNYX_API_BASE_URL):
        raise ImproperlyConfigured(
            f"TELNYX_API_BASE_URL={TELNYX_API_BASE_URL!r} is not valid: expected an http(s) URL"
        )
if TELNYX_PUBLIC_KEY:
    try:
        _telnyx_key_bytes = base64.b64decode(TELNYX_PUBLIC_KEY, validate=True)
    except (binascii.Error, ValueError):
        _telnyx_key_bytes = b""
    if len(_telnyx_key_bytes) != 32:
        raise ImproperlyConfigured(
            f"TELNYX_PUBLIC_KEY={TELNYX_PUBLIC_KEY!r} is not valid: expected a base64 32-byte "
            "Ed25519 public key"
        )
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
    "BULK_ORDER_MAX_QUANTITY", default=10_000, min_value=1, max_value=100_000
)
# While the carrier works on an order, fulfilment checks back after the delay the carrier asks
# for, never later than this (a countdown: see the Redis visibility-timeout rule below).
BULK_ORDER_MAX_RECHECK_SECONDS = env_int(
    "BULK_ORDER_MAX_RECHECK_SECONDS", default=60, min_value=1, max_value=3600
)
# A processing order with no progress for this long is resumed by the periodic sweeper, which
# runs every BULK_ORDER_SWEEP_SECONDS: a lost message or a killed worker never leaves an order
# stuck for longer than stall + sweep (90 + 15 s by default, within the 2 minutes README
# promises). The stall must stay above the longest healthy re-check interval, or healthy orders
# are resumed needlessly (harmless, fulfilment is idempotent, but it doubles the work).
BULK_ORDER_STALL_SECONDS = env_int("BULK_ORDER_STALL_SECONDS", default=90, min_value=1)
BULK_ORDER_SWEEP_SECONDS = env_int("BULK_ORDER_SWEEP_SECONDS", default=15, min_value=1)
if BULK_ORDER_STALL_SECONDS <= BULK_ORDER_MAX_RECHECK_SECONDS:
    raise ImproperlyConfigured(
        "BULK_ORDER_STALL_SECONDS must exceed BULK_ORDER_MAX_RECHECK_SECONDS"
    )

# --- Webhooks (API.md §5; docs/webhooks.md) -------------------------------------------------------
# Plain http:// and private, loopback or link-local targets: local development and tests only.
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=False)
# Ports an endpoint URL may use (any port while private targets are allowed).
WEBHOOKS_ALLOWED_PORTS = env_int_list(
    "WEBHOOKS_ALLOWED_PORTS", default=[443, 8443], min_value=1, max_value=65535
)
# Deliveries of one organization being sent at the same time; more wait a few seconds, so one
# customer's slow receivers cannot take every webhook worker process.
WEBHOOKS_MAX_IN_FLIGHT_PER_ORGANIZATION = env_int(
    "WEBHOOKS_MAX_IN_FLIGHT_PER_ORGANIZATION", default=4, min_value=1, max_value=1000
)
# Fernet keys (comma-separated) for signing secrets at rest: the first encrypts, all decrypt,
# so a new key goes first and the old one stays until `rotate_webhook_secret_keys` has run.
# Unset: a key derived from SECRET_KEY (fine for `make run`; set it in production).
WEBHOOK_SECRET_KEYS = env_list("WEBHOOK_SECRET_KEYS", default=[])
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
# The most such a user may move in any 24 hours (rolling; top-ups and adjustments, up or down,
# across organizations): one line cannot be split into many small ones.
SUPPORT_CREDIT_DAILY_LIMIT_CENTS = env_int(
    "SUPPORT_CREDIT_DAILY_LIMIT_CENTS", default=20_000, min_value=0, max_value=10**12
)

# Staff sessions (the only sessions there are: the API authenticates by key) end this long
# after login, whatever the activity; then staff log in again, with their second factor.
ADMIN_SESSION_SECONDS = env_int(
    "ADMIN_SESSION_SECONDS", default=8 * 60 * 60, min_value=60, max_value=7 * 24 * 60 * 60
)
SESSION_COOKIE_AGE = ADMIN_SESSION_SECONDS

# A TOTP code (django-otp) after the password, for superusers and for staff who hold a credit
# or API-key permission (accounts.two_factor). On by default outside DEBUG; `make run` runs
# with DEBUG, so it is off there unless set. Staff who enrolled a device are always asked.
ADMIN_REQUIRE_2FA = env_bool("ADMIN_REQUIRE_2FA", default=not DEBUG)
# The issuer authenticator apps show next to the code.
OTP_TOTP_ISSUER = env_str("ADMIN_2FA_ISSUER", default="Phone numbers back office")
# Never show a device's key or QR code in the admin after enrolment.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Login throttling (django-axes). Failed logins are counted per username *and* client address
# in the database, so every web process sees the same counts; after ADMIN_LOGIN_FAILURE_LIMIT
# failures that pair is locked out for ADMIN_LOGIN_COOLOFF_MINUTES (each further try during the
# lockout starts it again), and the lockout page (429) says so. A successful login resets the
# count. `manage.py axes_reset_username NAME` lifts a lockout early.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ADMIN_LOGIN_FAILURE_LIMIT = env_int(
    "ADMIN_LOGIN_FAILURE_LIMIT", default=5, min_value=1, max_value=1000
)
ADMIN_LOGIN_COOLOFF_MINUTES = env_int(
    "ADMIN_LOGIN_COOLOFF_MINUTES", default=15, min_value=1, max_value=7 * 24 * 60
)
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = ADMIN_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=ADMIN_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.staff_login.lockout_response"
# The client address as the request log sees it (TRUST_X_FORWARDED_FOR).
AXES_CLIENT_IP_CALLABLE = "api.middleware.client_ip"
# Lockouts are lifted with the management commands, not the admin (docs/backoffice.md).
AXES_ENABLE_ADMIN = False
# No start-up banner on every command; failed logins are still logged.
AXES_VERBOSE = False

# --- Celery: broker, delivery guarantees, the periodic tasks --------------------------------------
# "localhost" only to keep kombu from warning "no hostname" on every connection.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", default="filesystem://localhost//")
BROKER_IS_RABBITMQ = CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://"))
BROKER_IS_REDIS = CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
# The embedded broker's folder. `make test` gives each run a folder of its own, so that a test
# run's messages never reach the worker of a `make run` beside it, nor one run's leftovers a
# later run's worker.
CELERY_FILESYSTEM_BROKER_DIR = Path(
    env_str("CELERY_FILESYSTEM_BROKER_DIR", default=str(VAR_DIR / "celery"))
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = CELERY_FILESYSTEM_BROKER_DIR / "queue"
    # The embedded broker is a folder of message files shared by web, worker and beat.
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(CELERY_FILESYSTEM_BROKER_DIR / "processed"),
        # kombu's default is ./control, relative to wherever the process was started.
        "control_folder": str(CELERY_FILESYSTEM_BROKER_DIR / "control"),
        "store_processed": False,
    }
elif BROKER_IS_RABBITMQ:
    # RabbitMQ (recommended in production). Publisher confirms: an enqueue returns only once
    # the broker has the message, so one accepted after a commit cannot vanish silently (a
    # refused or unconfirmed publish raises, and the sweepers catch up).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
    # Quorum queues are replicated and durable. They cannot hold a message with an ETA for
    # long inside the worker (no global QoS), so Celery's native delayed delivery sends a
    # countdown through its celery_delayed_* exchanges; that needs topic exchanges.
    CELERY_TASK_DEFAULT_QUEUE_TYPE = "quorum"
    CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "topic"
    CELERY_WORKER_DETECT_QUORUM_QUEUES = True
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
# The hard limit of one task run: a wedged task is killed (its order is resumed by the sweeper)
# instead of holding a worker for ever. Part of the Redis visibility-timeout rule.
CELERY_TASK_TIME_LIMIT = 5 * 60
# Redis: a message a worker took but never acknowledged (acks are late: see below) goes back on
# the queue only after the visibility timeout. A task waiting in a worker for its countdown is
# unacknowledged too, so the timeout must exceed the longest countdown any task uses plus the
# longest run of a task, or a waiting message is delivered twice. Recovery of a killed worker's
# order does not wait for it: the stalled-order sweeper resumes the order within
# BULK_ORDER_STALL_SECONDS + BULK_ORDER_SWEEP_SECONDS.
LONGEST_COUNTDOWN_SECONDS = max(BULK_ORDER_MAX_RECHECK_SECONDS, WEBHOOKS_RETRY_MAX_DELAY_SECONDS)
_shortest_visibility_timeout = LONGEST_COUNTDOWN_SECONDS + CELERY_TASK_TIME_LIMIT + 60
if BROKER_IS_REDIS:
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = env_int(
        "CELERY_REDIS_VISIBILITY_TIMEOUT",
        default=_shortest_visibility_timeout,
        min_value=_shortest_visibility_timeout,
    )
# Every queue a worker consumes by default (task routes send webhook deliveries to "webhooks").
# On RabbitMQ both are quorum queues on topic exchanges (see above).
_queue_arguments = {"x-queue-type": "quorum"} if BROKER_IS_RABBITMQ else {}
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name, type="topic"), routing_key=name, queue_arguments=_queue_arguments)
    for name in ("celery", "webhooks")
]
# A worker touches this file every few seconds from its event loop; `python -m
# config.worker_liveness` fails when the file is older than CELERY_WORKER_HEARTBEAT_MAX_AGE.
CELERY_WORKER_HEARTBEAT_FILE = env_str(
    "CELERY_WORKER_HEARTBEAT_FILE", default=str(VAR_DIR / "celery" / "worker-heartbeat")
)
CELERY_WORKER_HEARTBEAT_MAX_AGE = env_int(
    "CELERY_WORKER_HEARTBEAT_MAX_AGE", default=60, min_value=5, max_value=3600
)
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
# Webhook sends wait on customers' servers: their own queue, so a worker that also consumes
# "celery" (Procfile, make run) alternates between the two, and production can give them a
# worker of their own (README).
CELERY_TASK_ROUTES = {"webhooks.tasks.*": {"queue": "webhooks"}}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "resume-stalled-bulk-orders": {
        "task": "orders.tasks.resume_stalled_bulk_orders",
        "schedule": BULK_ORDER_SWEEP_SECONDS,
    },
    "end-overdue-bulk-orders": {
        "task": "orders.tasks.end_overdue_bulk_orders",
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

# --- Observability: /metrics, client address in logs, error reporting (docs/operations.md) -------
# Unset: GET /metrics is 404. Prometheus sends it as `Authorization: Bearer <token>`.
METRICS_TOKEN = env_str("METRICS_TOKEN", default="")
# The business gauges (orders processing, held credit, inventory) are read from the database at
# most once per this many seconds, whatever the number of scrapers; 0 reads on every scrape.
METRICS_CACHE_SECONDS = env_int("METRICS_CACHE_SECONDS", default=5, min_value=0, max_value=300)
# amcore_phone_numbers_available counts each number type up to this many (an exact count of a
# large inventory reads its whole index); a type with more reads as this number.
METRICS_INVENTORY_COUNT_CAP = env_int(
    "METRICS_INVENTORY_COUNT_CAP", default=10_000, min_value=1, max_value=10_000_000
)
# prometheus-client reads PROMETHEUS_MULTIPROC_DIR itself (api.metrics); a directory that is not
# there would fail every request at its first metric, so say so at start-up instead.
_multiproc_dir = env_str("PROMETHEUS_MULTIPROC_DIR", default="")
if _multiproc_dir and not Path(_multiproc_dir).is_dir():
    raise ImproperlyConfigured(
        f"PROMETHEUS_MULTIPROC_DIR={_multiproc_dir!r} is not a directory: create it (empty) "
        "before starting the service (docs/operations.md)"
    )
# Behind a proxy that appends the client's address to X-Forwarded-For, log the last address of
# that header as the client IP; otherwise the socket's peer. Off by default: without such a
# proxy a client could write any address it likes into the header.
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", default=False)
# Error reporting to Sentry (or a compatible server) only when a DSN is given.
SENTRY_DSN = env_str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", default="production")
SENTRY_TRACES_SAMPLE_RATE = env_float(
    "SENTRY_TRACES_SAMPLE_RATE", default=0.0, min_value=0.0, max_value=1.0
)
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # No personal data: no user, cookies, client IP or request bodies leave the service.
        send_default_pii=False,
        max_request_body_size="never",
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )
