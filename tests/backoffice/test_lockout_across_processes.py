"""Two real web processes (gunicorn) on one database agree on failed logins: wrong passwords
sent to either count toward one lockout (django-axes' database handler), so adding web
processes does not multiply an attacker's tries."""

import re

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import User

from tests.backoffice.conftest import PASSWORD
from tests.support.processes import Gunicorn, child_env, database_url_of_test_db, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def two_web_processes(transactional_db):
    env = child_env(
        DATABASE_URL=database_url_of_test_db(),
        # Plain http on loopback: the cookies must travel without TLS.
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        LOG_LEVEL="WARNING",
    )
    first = Gunicorn(env=env)
    second = Gunicorn(env=env, port=free_port(taken={first.port}))
    try:
        yield [first.wait_ready().url, second.wait_ready().url]
    finally:
        first.stop()
        second.stop()


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
