"""Concurrency on PostgreSQL: real threads with their own connections, committed data."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from orders import services
from orders.models import BulkOrder
from phone_numbers.models import PhoneNumber
from tests.support.factories import assert_ledger_balances, ledger, make_api, make_numbers, make_org

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("number_prices"),
]
BULK = "/v1/phone-numbers/bulk"


@pytest.fixture
def enqueued(monkeypatch):
    """Fulfilment messages are collected instead of sent: these tests run fulfilment
    themselves, and nothing is left on the shared broker."""
    from orders import tasks

    sent = []
    monkeypatch.setattr(tasks.fulfil_bulk_order, "delay", lambda order_id: sent.append(order_id))
    return sent


@pytest.fixture
def webhook_calls(monkeypatch):
    from webhooks import services as webhooks_services

    calls = []
    lock = threading.Lock()

    def record(*, order):
        with lock:
            calls.append(order.id)

    monkeypatch.setattr(webhooks_services, "bulk_order_completed", record)
    return calls


def in_own_connection(function):
    def run(*args):
        try:
            return function(*args)
        finally:
            connections.close_all()

    return run


def test_100_concurrent_orders_never_share_a_number_and_the_ledger_balances(
    fast_carrier, enqueued, webhook_calls
):
    make_numbers(150)
    orgs = [make_org(f"Org {i}", credit_cents=100_000) for i in range(5)]
    apis = [make_api(org) for org in orgs]
    rng = random.Random(4)
    requests = [(i % 5, rng.randint(1, 5)) for i in range(100)]
    assert sum(q for _, q in requests) > 150

    @in_own_connection
    def place(org_index, quantity):
        response = apis[org_index].post(BULK, {"quantity": quantity, "area_code": "415"})
        return org_index, quantity, response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda r: place(*r), requests))

    immediate = [r for r in results if r[2] == 200]
    backorders = [r for r in results if r[2] == 202]
    assert len(immediate) + len(backorders) == 100, {r[2] for r in results}
    assert immediate and backorders
    handed_out = []
    for _, quantity, _, body in immediate:
        assert body["data"]["status"] == "complete"
        assert body["data"]["assigned_count"] == quantity == len(body["data"]["assigned_numbers"])
        handed_out += body["data"]["assigned_numbers"]
    assert len(handed_out) == len(set(handed_out))
    for _, quantity, _, body in backorders:
        assert body["data"]["assigned_count"] == 0
        assert body["data"]["assigned_numbers"] == []
        assert body["data"]["pending_count"] == quantity
    assert sorted(enqueued) == sorted(body["data"]["order_id"] for *_, body in backorders)

    # Finish the backorders, several at once.
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(in_own_connection(lambda i: services.bulk_order_fulfil(order_id=i)), enqueued)
        )

    assert not BulkOrder.objects.filter(status="processing").exists()
    assert len(webhook_calls) == len(backorders) == len(set(webhook_calls))
    for order in BulkOrder.objects.all():
        assert order.status == "complete"
        assert PhoneNumber.objects.filter(
            order_id=order.id, organization=order.organization
        ).count() == (order.quantity)
    assert PhoneNumber.objects.filter(state="assigned").count() == sum(q for _, q in requests)
    for org in orgs:
        org.refresh_from_db()
        assert_ledger_balances(org)
        assert org.held_cents == 0
        bought = sum(q for i, q in requests if orgs[i] == org)
        assert org.balance_cents == 100_000 - 100 * bought


def test_the_same_fulfilment_run_twice_at_once_assigns_and_charges_once(
    fast_carrier, enqueued, webhook_calls
):
    org = make_org("Twice", credit_cents=10_000)
    api = make_api(org)
    order_id = api.post(BULK, {"quantity": 6, "area_code": "415"}).json()["data"]["order_id"]
    make_numbers(3)  # became available after the order
    barrier = threading.Barrier(2)

    @in_own_connection
    def fulfil(_):
        barrier.wait()
        return services.bulk_order_fulfil(order_id=order_id)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(fulfil, range(2)))

    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.assigned_count, order.failed_count) == ("complete", 6, 0)
    assert PhoneNumber.objects.filter(order_id=order.id).count() == 6
    assert webhook_calls == [order.id]
    assert ledger(org)[1:] == [
        ("hold", 0, 600),
        ("charge", -300, -300),
        ("charge", -300, -300),
    ]
    assert_ledger_balances(org)
