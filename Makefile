# The two commands a new user needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
# uv from PATH, or a private copy installed with pip on first use.
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)

export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run test lint format migrate schema bench clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

$(VENV)/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed ## create .venv with the locked dependencies

# var/ holds the secret key, the SQLite database and the demo key: the owner's only (0700/0600).
var/secret_key:
	@umask 077; mkdir -p var; $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

migrate: install
	$(PY) manage.py migrate --noinput

# Web (gunicorn), a Celery worker and beat in the foreground; Ctrl-C stops all three.
# Settings read var/secret_key when SECRET_KEY is unset, so commands in another terminal work too.
# PROMETHEUS_MULTIPROC_DIR: where every process writes its metric samples (api.metrics); it is
# emptied on each start, as prometheus-client requires (samples of a past run would add up).
# ADMIN_REQUIRE_2FA: off for the local demo unless set (docs/backoffice.md); on in production.
run: install var/secret_key
	@umask 077; chmod 700 var; chmod 600 var/secret_key; \
	export ADMIN_REQUIRE_2FA=$${ADMIN_REQUIRE_2FA:-0}; \
	export PROMETHEUS_MULTIPROC_DIR=$${PROMETHEUS_MULTIPROC_DIR:-$(CURDIR)/var/prometheus}; \
	mkdir -p "$$PROMETHEUS_MULTIPROC_DIR" && rm -f "$$PROMETHEUS_MULTIPROC_DIR"/*.db && \
	$(PY) manage.py migrate --noinput && \
	{ chmod -f 600 var/db.sqlite3* 2>/dev/null || true; } && \
	$(PY) manage.py collectstatic --noinput -v 0 && \
	$(PY) manage.py demo_setup --port $(PORT) && \
	exec $(VENV)/bin/honcho -f Procfile.dev start -p $(PORT)

# Without CELERY_BROKER_URL the tests' workers use the embedded broker: in a folder of this run's
# own (removed afterwards), never the one of a `make run` beside it (config/settings.py).
test: install
	@set -a; SECRET_KEY=$${SECRET_KEY:-test-only-secret-key}; \
	broker_dir=$$(mktemp -d); trap 'rm -rf "$$broker_dir"' EXIT; \
	CELERY_FILESYSTEM_BROKER_DIR=$${CELERY_FILESYSTEM_BROKER_DIR:-$$broker_dir}; \
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The committed OpenAPI schema; tests/hardening/test_schema.py fails while it is stale.
schema: install
	@set -a; SECRET_KEY=$${SECRET_KEY:-schema-only-secret-key}; \
	$(PY) manage.py spectacular --format openapi-json --validate --file docs/openapi.json
	@echo "docs/openapi.json regenerated"

# The benchmark (docs/benchmarks.md): PostgreSQL from DATABASE_URL, its own <name>_bench
# database, gunicorn + a Celery worker on BENCH_PORT (9700). BENCH_SMOKE=1: a few seconds.
bench: install
	$(UV) sync --frozen --group bench --python $(PYTHON)
	@set -a; SECRET_KEY=$${SECRET_KEY:-bench-only-secret-key}; \
	$(PY) -m benchmarks.harness

clean:
	rm -rf var/db.sqlite3* var/celery var/cache var/celerybeat-schedule* var/demo-api-key var/prometheus
