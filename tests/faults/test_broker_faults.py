"""The broker down under traffic, with real processes on PostgreSQL: gunicorn, and a Celery
worker with beat, reach the broker (Redis or RabbitMQ, whichever CELERY_BROKER_URL names)
through a TCP proxy the test owns; cutting the proxy is the outage, the shared broker itself is
never touched. Prints the recovery time, then checks integrity."""

import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from django.conf import settings

from accounts.models import Organization
from orders.models import BulkOrder, CarrierOrder
from phone_numbers.models import PhoneNumber
from tests.faults.proxy import TcpProxy
from tests.support.factories import api_key_for, assert_integrity, make_numbers, make_org
from tests.support.processes import Gunicorn, Worker, child_env, database_url_of_test_db, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("number_prices"),
    pytest.mark.skipif(
        not (settings.BROKER_IS_REDIS or settings.BROKER_IS_RABBITMQ),
        reason="needs a networked broker (CELERY_BROKER_URL redis:// or amqp://)",
    ),
]
BULK = "/v1/phone-numbers/bulk"
# The sweeper is what finishes an order whose enqueue failed during the outage; scaled down
# so the test stays short (tests/orders/test_worker.py proves the default stall + sweep bound).
RECOVERY = {
    "BULK_ORDER_STALL_SECONDS": "3",
    "BULK_ORDER_SWEEP_SECONDS": "1",
    "BULK_ORDER_MAX_RECHECK_SECONDS": "1",
    "SIMULATED_CARRIER_DELAY_SECONDS": "2",
    "SIMULATED_CARRIER_FAILURE_RATE": "0",
}


def broker_url_through(proxy: TcpProxy) -> str:
    """CELERY_BROKER_URL with its host and port replaced by the proxy's."""
    url = urlsplit(settings.CELERY_BROKER_URL)
    credentials = url.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(url._replace(netloc=netloc))


@pytest.fixture
def services(tmp_path):
    """(web, worker, proxy): gunicorn and a worker with beat, both on the broker via `proxy`."""
    broker = urlsplit(settings.CELERY_BROKER_URL)
    proxy = TcpProxy(broker.port or (5672 if settings.BROKER_IS_RABBITMQ else 6379))
    env = {"CELERY_BROKER_URL": broker_url_through(proxy), **RECOVERY}
    worker = Worker(beat=True, **env)
    web = Gunicorn(
        options=["--timeout", "60"],
        env=child_env(DATABASE_URL=database_url_of_test_db(), LOG_LEVEL="WARNING", **env),
        log_path=tmp_path / "web.log",
    )
    try:
        yield web.wait_ready(), worker, proxy
    finally:
        web.stop()
        worker.stop()
        proxy.close()


def test_orders_placed_while_the_broker_is_down_all_finish_once_it_is_back(services):
    web, worker, proxy = services
    org = make_org("Broker outage", credit_cents=10_000)
    make_numbers(4, area_code="646")
    key = api_key_for(org)

    def post(body, idempotency_key):
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key}
        sent = time.monotonic()
        response = requests.post(f"{web.url}{BULK}", json=body, headers=headers, timeout=30)
        return response, time.monotonic() - sent

    def readyz():
        return requests.get(f"{web.url}/readyz", timeout=15)

    assert readyz().status_code == 200
    # In flight when the broker goes: the carrier is working on it, its re-check is a message
    # with a countdown (in the worker on Redis, in RabbitMQ's delayed exchanges on RabbitMQ).
    in_flight, _ = post({"quantity": 2, "area_code": "312"}, str(uuid.uuid4()))
    assert in_flight.status_code == 202, in_flight.text
    in_flight_id = in_flight.json()["data"]["order_id"]
    wait_for(
        lambda: CarrierOrder.objects.filter(
            bulk_order_id=in_flight_id, carrier_order_id__isnull=False
        ).exists(),
        timeout=60,
        what="the in-flight order to reach the carrier",
        processes=[worker, web],
    )

    proxy.cut()
    cut = time.monotonic()
    ready = readyz()
    assert ready.status_code == 503
    assert int(ready.headers["Retry-After"]) > 0
    assert ready.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert ready.json()["error"]["details"] == {"database": "ok", "broker": "unavailable"}

    # Filled from inventory: nothing to enqueue, 200 with the numbers as always.
    immediate, immediate_took = post({"quantity": 2, "area_code": "646"}, str(uuid.uuid4()))
    assert immediate.status_code == 200, immediate.text
    assert immediate.json()["data"]["assigned_count"] == 2
    # Backorders: recorded, their cost held, 202; the enqueue after commit fails and is logged,
    # and the stalled-order sweeper starts them once the broker is back.
    backorder_keys = [str(uuid.uuid4()) for _ in range(2)]
    backorders, took = [], [immediate_took]
    for body, idempotency_key in zip(
        ({"quantity": 3, "area_code": "312"}, {"quantity": 2, "area_code": "718"}),
        backorder_keys,
        strict=True,
    ):
        response, seconds = post(body, idempotency_key)
        took.append(seconds)
        assert response.status_code == 202, response.text
        assert response.json()["data"]["status"] == "processing"
        backorders.append(response)
    # A client's retry during the outage gets the stored answer, not a second order.
    retried, _ = post({"quantity": 3, "area_code": "312"}, backorder_keys[0])
    assert retried.json() == backorders[0].json()
    status = requests.get(
        f"{web.url}{backorders[0].headers['Location']}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=15,
    )
    assert (status.status_code, status.json()["data"]["status"]) == (200, "processing")
    print(
        f"\nbroker down: /readyz 503, immediate order 200, backorders 202; slowest answer "
        f"{max(took):.2f} s"
    )
    assert max(took) < 15, took

    time.sleep(max(0.0, 5 - (time.monotonic() - cut)))  # down for 5 s at least
    proxy.restore()
    restored = time.monotonic()
    order_ids = [in_flight_id, *(response.json()["data"]["order_id"] for response in backorders)]
    wait_for(
        lambda: not BulkOrder.objects.filter(pk__in=order_ids, status="processing").exists(),
        timeout=90,
        what="every order to end after the broker's return",
        processes=[worker, web],
    )
    print(
        f"recovery (broker outage, stall {RECOVERY['BULK_ORDER_STALL_SECONDS']} s, sweep "
        f"{RECOVERY['BULK_ORDER_SWEEP_SECONDS']} s): every order ended "
        f"{time.monotonic() - restored:.1f} s after the broker returned"
    )
    while (ready := readyz()).status_code != 200:
        assert time.monotonic() - restored < 30, ready.text
        time.sleep(0.3)

    orders = BulkOrder.objects.filter(organization=org)
    assert orders.count() == 4  # the retry made none
    assert set(orders.values_list("status", flat=True)) == {"complete"}
    assert PhoneNumber.objects.filter(organization=org).count() == 2 + 2 + 3 + 2
    organization = Organization.objects.get(pk=org.pk)
    assert (organization.balance_cents, organization.held_cents) == (10_000 - 9 * 100, 0)
    assert_integrity()
