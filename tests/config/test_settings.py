"""Settings come from the environment and fail loudly on a bad value (API.md §6)."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tests.support.settings import load_settings

PRODUCTION_LIKE = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "DEBUG": "0",
    "ALLOWED_HOSTS": "api.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "TRUST_X_FORWARDED_PROTO": "1",
}


def test_manage_py_check_deploy_is_clean_with_production_like_values(tmp_path):
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **PRODUCTION_LIKE}

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_it_refuses_to_start_without_a_secret_key_outside_debug(monkeypatch, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is not set"):
        load_settings(
            monkeypatch, SECRET_KEY="", DEBUG="0", SECRET_KEY_FILE=str(tmp_path / "missing")
        )


def test_it_reads_the_key_file_make_run_writes_when_secret_key_is_unset(monkeypatch, tmp_path):
    (tmp_path / "secret_key").write_text("k" * 60 + "\n")

    loaded = load_settings(
        monkeypatch, SECRET_KEY="", DEBUG="0", SECRET_KEY_FILE=str(tmp_path / "secret_key")
    )

    assert loaded["SECRET_KEY"] == "k" * 60


def test_it_starts_without_a_secret_key_in_debug(monkeypatch, tmp_path):
    loaded = load_settings(
        monkeypatch, SECRET_KEY="", DEBUG="1", SECRET_KEY_FILE=str(tmp_path / "missing")
    )

    assert loaded["DEBUG"] is True
    assert len(loaded["SECRET_KEY"]) >= 50


@pytest.mark.parametrize(
    "name, value",
    [
        ("DEBUG", "maybe"),
        ("PORT", "eighty"),
        ("PORT", "0"),
        ("PORT", "70000"),
        ("SECURE_HSTS_SECONDS", "-1"),
        ("SECURE_SSL_REDIRECT", "sometimes"),
        ("DATABASE_URL", "not-a-url"),
        ("DATABASE_URL", "foo://db/x"),
        ("CACHE_URL", "nope://cache"),
        ("LOG_LEVEL", "LOUD"),
        ("BULK_ORDER_MAX_QUANTITY", "0"),
        ("NUMBER_QUARANTINE_DAYS", "thirty"),
        ("IDEMPOTENCY_KEY_TTL_HOURS", "0"),
        ("CARRIER_BACKEND", "acme"),
        ("SIMULATED_CARRIER_FAILURE_RATE", "1.5"),
        ("SIMULATED_CARRIER_FAILURE_RATE", "nan"),
        ("SIMULATED_CARRIER_DELAY_SECONDS", "-2"),
        ("SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES", "415,41x"),
        ("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "perhaps"),
    ],
)
def test_it_fails_loudly_on_a_bad_value_naming_the_variable(monkeypatch, name, value):
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(monkeypatch, **{name: value})


def test_it_reads_good_values(monkeypatch):
    loaded = load_settings(
        monkeypatch,
        DEBUG="true",
        PORT="9200",
        DATABASE_URL="postgres://app@db.internal:5432/numbers",
        CACHE_URL="rediscache://127.0.0.1:6379/3",
        SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES="415,212",
        TRUST_X_FORWARDED_PROTO="1",
    )

    assert loaded["DEBUG"] is True
    assert loaded["PORT"] == 9200
    assert loaded["IS_POSTGRES"] is True
    assert loaded["DATABASES"]["default"]["NAME"] == "numbers"
    assert loaded["DATABASES"]["default"]["OPTIONS"]["connect_timeout"] == 5
    assert loaded["SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES"] == ["415", "212"]
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


def test_the_embedded_sqlite_default_is_set_up_for_web_and_worker_together(monkeypatch):
    loaded = load_settings(monkeypatch)

    database = loaded["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert database["OPTIONS"]["timeout"] >= 5
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
    assert loaded["CELERY_BROKER_URL"].startswith("filesystem://")


def test_the_embedded_broker_keeps_its_messages_in_the_folder_it_is_given(monkeypatch, tmp_path):
    default = load_settings(monkeypatch, CELERY_FILESYSTEM_BROKER_DIR=None)
    own = load_settings(monkeypatch, CELERY_FILESYSTEM_BROKER_DIR=str(tmp_path))

    assert default["CELERY_BROKER_TRANSPORT_OPTIONS"]["data_folder_in"] == str(
        default["VAR_DIR"] / "celery" / "queue"
    )
    options = own["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert options["data_folder_in"] == options["data_folder_out"] == str(tmp_path / "queue")
    assert options["control_folder"] == str(tmp_path / "control")
    assert (tmp_path / "queue").is_dir()


def test_pgbouncer_transaction_mode_reads_querysets_without_server_side_cursors(monkeypatch):
    url = "postgres://app@pgbouncer.internal:6432/numbers"
    behind = load_settings(monkeypatch, DATABASE_URL=url, PGBOUNCER_TRANSACTION_MODE="1")
    direct = load_settings(monkeypatch, DATABASE_URL=url, PGBOUNCER_TRANSACTION_MODE=None)

    assert behind["DATABASES"]["default"]["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert direct["DATABASES"]["default"]["DISABLE_SERVER_SIDE_CURSORS"] is False
    # Client-side parameter binding either way: psycopg prepares no statement.
    assert "server_side_binding" not in behind["DATABASES"]["default"]["OPTIONS"]


@pytest.mark.parametrize(
    ("debug", "value", "expected"),
    [("0", None, True), ("1", None, False), ("1", "1", True), ("0", "0", False)],
)
def test_admin_require_2fa_is_on_outside_debug_unless_set(monkeypatch, debug, value, expected):
    loaded = load_settings(monkeypatch, DEBUG=debug, ADMIN_REQUIRE_2FA=value)

    assert loaded["ADMIN_REQUIRE_2FA"] is expected


def test_admin_require_2fa_refuses_a_value_that_is_not_a_bool(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="ADMIN_REQUIRE_2FA='maybe' is not valid"):
        load_settings(monkeypatch, ADMIN_REQUIRE_2FA="maybe")


def test_admin_host_is_added_to_allowed_hosts(monkeypatch):
    loaded = load_settings(
        monkeypatch, ALLOWED_HOSTS="api.example.com", ADMIN_HOST="Admin.Example.com"
    )

    assert loaded["ADMIN_HOST"] == "admin.example.com"
    assert loaded["ALLOWED_HOSTS"] == ["api.example.com", "admin.example.com"]


def test_staff_session_and_throttling_settings_have_bounded_defaults(monkeypatch):
    defaults = load_settings(monkeypatch)
    custom = load_settings(
        monkeypatch,
        ADMIN_SESSION_SECONDS="3600",
        ADMIN_LOGIN_FAILURE_LIMIT="3",
        ADMIN_LOGIN_COOLOFF_MINUTES="60",
    )

    assert defaults["SESSION_COOKIE_AGE"] == defaults["ADMIN_SESSION_SECONDS"] == 8 * 3600
    assert (defaults["AXES_FAILURE_LIMIT"], defaults["AXES_COOLOFF_TIME"].seconds) == (5, 900)
    assert defaults["AXES_LOCKOUT_PARAMETERS"] == [["username", "ip_address"]]
    assert custom["SESSION_COOKIE_AGE"] == 3600
    assert (custom["AXES_FAILURE_LIMIT"], custom["AXES_COOLOFF_TIME"].seconds) == (3, 3600)
    with pytest.raises(ImproperlyConfigured, match="ADMIN_SESSION_SECONDS"):
        load_settings(monkeypatch, ADMIN_SESSION_SECONDS="0")


def test_the_telnyx_backend_refuses_to_start_without_its_api_key(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="TELNYX_API_KEY is not set"):
        load_settings(monkeypatch, CARRIER_BACKEND="telnyx", TELNYX_API_KEY=None)


def test_the_telnyx_settings_are_read_and_checked(monkeypatch):
    loaded = load_settings(
        monkeypatch,
        CARRIER_BACKEND="telnyx",
        TELNYX_API_KEY="KEY123",
        TELNYX_API_BASE_URL="http://127.0.0.1:9/v2",
        TELNYX_TIMEOUT_SECONDS="4.5",
        CARRIER_MAX_PLACEMENTS="2",
        CARRIER_COVERAGE_CACHE_SECONDS="0",
    )
    assert (loaded["TELNYX_API_BASE_URL"], loaded["TELNYX_TIMEOUT_SECONDS"]) == (
        "http://127.0.0.1:9/v2",
        4.5,
    )
    assert (loaded["CARRIER_MAX_PLACEMENTS"], loaded["CARRIER_COVERAGE_CACHE_SECONDS"]) == (2, 0)
    with pytest.raises(ImproperlyConfigured, match="TELNYX_PUBLIC_KEY"):
        load_settings(monkeypatch, TELNYX_PUBLIC_KEY="bm90IGEga2V5")
    with pytest.raises(ImproperlyConfigured, match="CARRIER_MAX_PLACEMENTS"):
        load_settings(monkeypatch, CARRIER_MAX_PLACEMENTS="0")
