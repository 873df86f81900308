"""A cancel racing fulfilment's last assignment, on PostgreSQL with real threads: the order
ends exactly once, whichever wins, with counts and ledger that add up."""

import threading

import pytest
from django.db import connections

from api.errors import OrderNotProcessing
from orders import services
from orders.models import BulkOrder
from orders.signals import bulk_order_finished
from phone_numbers.allocation import Criteria
from phone_numbers.models import PhoneNumber
from tests.support.factories import assert_ledger_balances, make_numbers, make_org

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("number_prices"),
]
RUNS = 100


@pytest.fixture
def enqueued(monkeypatch):
    """Fulfilment messages are collected instead of sent: the test runs fulfilment itself."""
    from orders import tasks

    sent = []
    monkeypatch.setattr(tasks.fulfil_bulk_order, "delay", lambda order_id: sent.append(order_id))
    return sent


@pytest.fixture
def finished():
    ended, lock = [], threading.Lock()

    def record(sender, order, **kwargs):
        with lock:
            ended.append(order.id)

    bulk_order_finished.connect(record, dispatch_uid="test-race-finished", weak=False)
    yield ended
    bulk_order_finished.disconnect(dispatch_uid="test-race-finished")


def race(*, organization_id, order_id) -> dict:
    """Run fulfilment and a client's cancel of the order at the same moment, each in its own
    thread and connection; what each answered."""
    start = threading.Barrier(2)
    results = {}

    def fulfil():
        try:
            start.wait()
            results["fulfil"] = services.bulk_order_fulfil(order_id=order_id)
        finally:
            connections.close_all()

    def cancel():
        try:
            start.wait()
            services.bulk_order_cancel(
                organization_id=organization_id, order_id=order_id, by=BulkOrder.EndedBy.CLIENT
            )
            results["cancel"] = "ok"
        except OrderNotProcessing as refused:
            results["cancel"] = refused.status
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fulfil), threading.Thread(target=cancel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_a_cancel_racing_the_last_assignment_ends_the_order_once(fast_carrier, enqueued, finished):
    outcomes = {"cancelled": 0, "fulfilled": 0}
    for run in range(RUNS):
        PhoneNumber.objects.filter(state=PhoneNumber.State.AVAILABLE).delete()
        org = make_org(f"Race {run}", credit_cents=1_000)
        make_numbers(1, start=run * 2)
        # One number now, one pending: fulfilment's next claim is the order's last assignment.
        order = services.bulk_order_place(
            organization_id=org.id,
            criteria=Criteria(number_type="local", area_code="415"),
            quantity=2,
            mode=BulkOrder.Mode.IMMEDIATE_PARTIAL,
        )
        assert (order.status, order.assigned_count) == ("processing", 1)
        make_numbers(1, start=run * 2 + 1)
        results = race(organization_id=org.id, order_id=order.id)

        order.refresh_from_db()
        assert finished.count(order.id) == 1, f"run {run}: ended {finished.count(order.id)} times"
        assert order.assigned_count + order.failed_count == order.quantity
        assert PhoneNumber.objects.filter(order_id=order.id).count() == order.assigned_count
        if results["cancel"] == "ok":
            outcomes["cancelled"] += 1
            assert (order.status, order.assigned_count, order.ended_by) == ("partial", 1, "client")
            assert order.cancelled_at is not None
        else:
            outcomes["fulfilled"] += 1
            assert results["cancel"] == "complete"
            assert (order.status, order.ended_by, order.cancelled_at) == (
                "complete",
                "carrier",
                None,
            )
        assert_ledger_balances(org)
        org.refresh_from_db()
        assert org.held_cents == 0
        assert org.balance_cents == 1_000 - 100 * order.assigned_count

    print("race outcomes over", RUNS, "runs:", outcomes)
