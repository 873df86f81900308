"""Optional error reporting: off unless SENTRY_DSN is set; with it, the Django and Celery
integrations and no personal data. Checked in a fresh interpreter, since the SDK is set up when
the settings load."""

import json
import os
import subprocess
import sys

from django.conf import settings

PROBE = (
    "import django, json, sentry_sdk; django.setup(); client = sentry_sdk.get_client(); "
    "print(json.dumps({'active': client.is_active(), "
    "'pii': client.options.get('send_default_pii'), "
    "'bodies': client.options.get('max_request_body_size'), "
    "'integrations': sorted(client.integrations)}))"
)


def probe(**env):
    base = {key: value for key, value in os.environ.items() if key != "SENTRY_DSN"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=settings.BASE_DIR,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": "test-only-secret-key",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_nothing_is_reported_without_a_dsn():
    assert probe()["active"] is False


def test_with_a_dsn_errors_of_requests_and_tasks_are_reported_without_personal_data():
    # Loopback, port 9 (discard): nothing is sent by setting the SDK up.
    state = probe(SENTRY_DSN="http://public@127.0.0.1:9/1")

    assert state["active"] is True
    assert {"django", "celery"} <= set(state["integrations"])
    assert state["pii"] is False
    assert state["bodies"] == "never"
