"""Two real web processes (gunicorn) on one database agree on failed logins: wrong passwords
sent to either count toward one lockout (django-axes' database handler), so adding web
processes does not multiply an attacker's tries."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import User

from tests.backoffice.conftest import PASSWORD
from tests.hardening.test_ratelimit_concurrency import database_url, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def two_web_processes(transactional_db, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        # Plain http on loopback: the cookies must travel without TLS.
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
    }
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    started, taken = [], set()
    try:
        for index in range(2):
            port = free_port(taken)
            taken.add(port)
            log = open(tmp_path / f"gunicorn-{index}.log", "w")  # noqa: SIM115 (closed below)
            command = [gunicorn, "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
            process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            started.append((process, log, f"http://127.0.0.1:{port}"))
        deadline = time.monotonic() + 60
        for process, _log, url in started:
            while True:
                try:
                    if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert process.poll() is None, (tmp_path / "gunicorn-0.log").read_text()
                assert time.monotonic() < deadline, f"gunicorn at {url} never became ready"
                time.sleep(0.2)
        yield [url for _process, _log, url in started]
    finally:
        for process, log, _url in started:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def log_in(url, password):
    """One login attempt through the real form (CSRF token from the page); returns the
    status of the POST."""
    with requests.Session() as browser:
        page = browser.get(f"{url}/admin/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = browser.post(
            f"{url}/admin/login/",
            data={"username": "root", "password": password, "csrfmiddlewaretoken": token},
            allow_redirects=False,
            timeout=30,
        )
        return answer.status_code, answer.text


def test_failures_sent_to_two_processes_add_up_to_one_lockout(two_web_processes):
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    first, second = two_web_processes
    limit = settings.ADMIN_LOGIN_FAILURE_LIMIT
    assert limit >= 2

    statuses = [log_in(first if i % 2 else second, "wrong")[0] for i in range(limit - 1)]
    # Neither process alone saw `limit` failures; together they did after this one.
    assert statuses == [200] * (limit - 1)
    last_status, _ = log_in(first, "wrong")
    right_status, body = log_in(second, PASSWORD)

    assert last_status == 429
    assert right_status == 429 and "Too many failed logins" in body
