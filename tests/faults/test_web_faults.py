"""Fault tests with real gunicorn processes on PostgreSQL, the database reached through a TCP
proxy the test owns (loopback only): the database cut under traffic, and a web worker killed
mid-request. Each prints its recovery time, then checks integrity."""

import os
import signal
import threading
import time
import uuid

import pytest
import requests
from django.conf import settings
from django.db import connection

from orders.models import BulkOrder
from tests.faults.proxy import TcpProxy
from tests.support.factories import api_key_for, assert_integrity, make_numbers, make_org
from tests.support.processes import Gunicorn, child_env

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("number_prices"),
]
BULK = "/v1/phone-numbers/bulk"


@pytest.fixture
def web(tmp_path):
    """gunicorn (one worker) on the test database through a TCP proxy the test owns."""
    proxy = TcpProxy(int(settings.DATABASES["default"]["PORT"] or 5432))
    db = settings.DATABASES["default"]
    env = child_env(
        DATABASE_URL=f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}"
        "?connect_timeout=2",
        LOG_LEVEL="WARNING",
    )
    server = Gunicorn(options=["--timeout", "60"], env=env, log_path=tmp_path / "gunicorn.log")
    try:
        yield server.wait_ready(), proxy
    finally:
        server.stop()
        proxy.close()


def test_a_database_cut_answers_only_503_with_retry_after_then_200(web):
    server, proxy = web
    headers = {"Authorization": f"Bearer {api_key_for(make_org('Cut'))}"}

    def call():
        try:
            return requests.get(f"{server.url}/v1/billing/wallet", headers=headers, timeout=15)
        except requests.RequestException as error:
            pytest.fail(f"no HTTP answer: {error}")

    assert call().status_code == 200
    proxy.cut()
    during = [call() for _ in range(5)]
    assert {response.status_code for response in during} == {503}
    for response in during:
        assert int(response.headers["Retry-After"]) > 0
        assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    proxy.restore()
    restored = time.monotonic()
    while (response := call()).status_code != 200:
        assert response.status_code == 503
        assert time.monotonic() - restored < 30, "no 200 within 30 s of the database's return"
    print(f"\nrecovery (database cut): 200 again {time.monotonic() - restored:.2f} s after")
    assert all(call().status_code == 200 for _ in range(3))
    assert_integrity()


def test_connections_the_server_ended_between_requests_are_replaced_before_the_next(web):
    # The health check (config/postgresql/base.py) polls each kept connection's socket before a
    # request uses it. A server that ends a session (restart, failover, pg_terminate_backend)
    # leaves its last message there: the request must get a new connection, not the dead one.
    server, _ = web
    headers = {"Authorization": f"Bearer {api_key_for(make_org('Ended'))}"}

    def statuses(count):
        url = f"{server.url}/v1/billing/wallet"
        return [requests.get(url, headers=headers, timeout=15).status_code for _ in range(count)]

    assert set(statuses(12)) == {200}  # every thread of the worker holds a connection now
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            "current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        ended = cursor.rowcount
    assert ended >= 1
    time.sleep(0.5)  # the backends' last messages reach the kept sockets

    assert statuses(12) == [200] * 12


def test_a_web_worker_killed_mid_request_leaves_exactly_one_order_for_the_retry(web):
    server, proxy = web
    org = make_org("Killed web", credit_cents=10_000)
    make_numbers(3, area_code="646")
    headers = {"Authorization": f"Bearer {api_key_for(org)}", "Idempotency-Key": str(uuid.uuid4())}
    body = {"quantity": 3, "area_code": "646"}

    # The worker hangs inside the order's transaction (the database's answers stop reaching
    # it once it inserted the order), then dies: the client sees the connection drop.
    proxy.hold_after(b'INSERT INTO "orders_bulkorder"')

    outcome = {}

    def place():
        try:
            outcome["first"] = requests.post(
                f"{server.url}{BULK}", json=body, headers=headers, timeout=30
            )
        except requests.RequestException as error:
            outcome["first"] = error

    first = threading.Thread(target=place)
    first.start()
    assert proxy.held.wait(30), "the order's INSERT never reached the database"
    os.kill(min(server.child_pids()), signal.SIGKILL)
    first.join(30)
    assert isinstance(outcome["first"], requests.RequestException), outcome["first"]
    proxy.hold_after(b"\0never\0")

    killed = time.monotonic()
    while True:
        try:
            retry = requests.post(f"{server.url}{BULK}", json=body, headers=headers, timeout=30)
            break
        except requests.RequestException:
            assert time.monotonic() - killed < 60, "gunicorn never answered the retry"
            time.sleep(0.3)
    print(f"\nrecovery (web worker killed): retry answered {time.monotonic() - killed:.1f} s after")
    # Filled from inventory at once: 200 with the numbers (API.md §2).
    assert retry.status_code == 200, retry.text
    assert retry.json()["data"]["assigned_count"] == 3
    again = requests.post(f"{server.url}{BULK}", json=body, headers=headers, timeout=30)
    assert again.json() == retry.json()
    assert BulkOrder.objects.filter(organization=org).count() == 1
    assert_integrity()
