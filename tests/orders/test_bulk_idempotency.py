"""Idempotency-Key on the real bulk route (API.md §4): retries never create a second order or
charge. The mechanism's own edge cases are in test_idempotency.py."""

import threading

import pytest
from django.db import connections

from accounts.models import CreditTransaction
from orders.models import BulkOrder
from tests.support.factories import assert_ledger_balances, make_api, make_numbers, make_org

BULK = "/v1/phone-numbers/bulk"


@pytest.fixture
def enqueued(monkeypatch):
    from orders import tasks

    sent = []
    monkeypatch.setattr(tasks.fulfil_bulk_order, "delay", lambda order_id: sent.append(order_id))
    return sent


def send(api, body, key="retry-me"):
    return api.post(BULK, body, HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "area_code, quantity, status, money_lines",
    [("415", 3, 200, {"charge": 1}), ("646", 3, 202, {"hold": 1}), ("415", 500, 402, {})],
)
def test_ten_retries_make_one_order_and_one_charge(
    alice,
    alice_org,
    enqueued,
    django_capture_on_commit_callbacks,
    area_code,
    quantity,
    status,
    money_lines,
):
    make_numbers(5, area_code="415")
    body = {"quantity": quantity, "area_code": area_code, "label": "retry"}

    with django_capture_on_commit_callbacks(execute=True):
        responses = [send(alice, body) for _ in range(10)]

    assert [r.status_code for r in responses] == [status] * 10
    assert len({r.content for r in responses}) == 1
    assert "Idempotent-Replayed" not in responses[0]
    assert [r["Idempotent-Replayed"] for r in responses[1:]] == ["true"] * 9
    orders = BulkOrder.objects.filter(organization=alice_org)
    assert orders.count() == (0 if status == 402 else 1)
    kinds = CreditTransaction.objects.filter(organization=alice_org).exclude(kind="topup")
    assert {k: kinds.filter(kind=k).count() for k in money_lines} == money_lines
    assert kinds.count() == sum(money_lines.values())
    assert len(enqueued) == (1 if status == 202 else 0)
    if status == 202:
        assert {r["Location"] for r in responses} == {f"{BULK}/{orders.get().id}"}
    assert_ledger_balances(alice_org)


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused_and_orders_nothing_more(alice, alice_org):
    make_numbers(5, area_code="415")
    send(alice, {"quantity": 1, "area_code": "415"})

    response = send(alice, {"quantity": 2, "area_code": "415"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert BulkOrder.objects.filter(organization=alice_org).count() == 1


@pytest.mark.django_db
def test_another_organization_with_the_same_key_gets_its_own_order(alice, bob, bob_org):
    make_numbers(5, area_code="415")
    send(alice, {"quantity": 1, "area_code": "415"})

    response = send(bob, {"quantity": 1, "area_code": "415"})

    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert BulkOrder.objects.filter(organization=bob_org).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("number_prices")
def test_fifty_concurrent_retries_make_one_backorder(enqueued):
    org = make_org("Retry Storm")
    api = make_api(org)
    barrier = threading.Barrier(50)
    results, lock = [], threading.Lock()

    def client():
        barrier.wait()
        try:
            response = send(api, {"quantity": 5, "area_code": "646"}, key="storm")
            with lock:
                results.append(response)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 50
    assert {r.status_code for r in results} <= {202, 409}
    assert not [r for r in results if r.status_code >= 500]
    assert len([r for r in results if r.status_code == 202 and "Idempotent-Replayed" not in r]) == 1
    assert BulkOrder.objects.filter(organization=org).count() == 1
    assert CreditTransaction.objects.filter(organization=org, kind="hold").count() == 1
    assert len(enqueued) == 1
    assert_ledger_balances(org)


@pytest.mark.django_db
def test_a_broker_outage_after_commit_still_answers_202_once(
    alice, alice_org, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from orders import tasks

    def broker_down(order_id):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.fulfil_bulk_order, "delay", broker_down)
    body = {"quantity": 2, "area_code": "646"}

    with django_capture_on_commit_callbacks(execute=True):
        first = send(alice, body)
    again = send(alice, body)

    # The order is committed and held; the stalled-order sweeper will resume it.
    assert first.status_code == 202
    assert again.status_code == 202 and again["Idempotent-Replayed"] == "true"
    assert BulkOrder.objects.get(organization=alice_org).status == "processing"
    assert CreditTransaction.objects.filter(organization=alice_org, kind="hold").count() == 1
