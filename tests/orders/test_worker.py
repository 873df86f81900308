"""End to end with a real Celery worker process on the real broker (not eager mode)."""

import time

import pytest
from django.conf import settings

from orders.models import BulkOrder, CarrierOrder
from phone_numbers.models import PhoneNumber
from tests.support.factories import (
    assert_integrity,
    assert_ledger_balances,
    ledger,
    make_api,
    make_numbers,
    make_org,
)
from tests.support.processes import wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("number_prices"),
]
BULK = "/v1/phone-numbers/bulk"
ROUTING = {
    "inbound_url": "https://customer.example/inbound",
    "status_url": "https://customer.example/status",
    "label": "e2e-pool",
}


def test_a_backorder_completes_through_a_real_worker(workers):
    worker = workers(SIMULATED_CARRIER_DELAY_SECONDS=1, SIMULATED_CARRIER_FAILURE_RATE=0)
    org = make_org("E2E", credit_cents=10_000)
    api = make_api(org)
    make_numbers(2, area_code="312")

    # No digit criteria: the simulated carrier supplies by type and area code only, and a
    # delivered number that misses any criterion goes to inventory, not to the order.
    response = api.post(BULK, {"quantity": 5, "area_code": "312", **ROUTING})
    assert response.status_code == 202
    assert response.json()["data"]["assigned_count"] == 0
    location = response["Location"]

    def complete():
        data = api.get(location).json()["data"]
        assert data["assigned_count"] + data["pending_count"] + (data["failed_count"] or 0) == 5
        return data if data["status"] != "processing" else None

    data = wait_for(complete, timeout=30, what="the order to complete", processes=[worker])
    assert data["status"] == "complete"
    assert (data["assigned_count"], data["pending_count"], data["failed_count"]) == (5, 0, None)
    numbers = PhoneNumber.objects.filter(organization=org)
    assert sorted(numbers.values_list("number", flat=True)) == data["assigned_numbers"]
    assert {"+13125557001", "+13125557002"} <= set(data["assigned_numbers"])
    for number in numbers:
        assert (number.state, number.area_code, number.number_type) == ("assigned", "312", "local")
        assert (number.inbound_url, number.status_url, number.label) == (
            ROUTING["inbound_url"],
            ROUTING["status_url"],
            "e2e-pool",
        )
    assert ledger(org)[1:] == [
        ("hold", 0, 500),
        ("charge", -200, -200),
        ("charge", -300, -300),
    ]
    assert_ledger_balances(org)
    assert_integrity()
    org.refresh_from_db()
    assert (org.balance_cents, org.held_cents) == (9_500, 0)


def test_an_order_completes_after_its_worker_is_killed_mid_fulfilment(workers):
    first = workers(SIMULATED_CARRIER_DELAY_SECONDS=4)
    org = make_org("Killed", credit_cents=10_000)
    api = make_api(org)
    make_numbers(2, area_code="212")
    order_id = api.post(BULK, {"quantity": 5, "area_code": "212"}).json()["data"]["order_id"]

    # Mid-fulfilment: inventory claimed and the carrier ordered, delivery not yet assigned.
    wait_for(
        lambda: CarrierOrder.objects.filter(
            bulk_order_id=order_id, carrier_order_id__isnull=False
        ).exists(),
        timeout=30,
        what="the carrier order",
        processes=[first],
    )
    first.kill()
    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.assigned_count) == ("processing", 2)

    # The default settings on both brokers. RabbitMQ: the killed worker's connection dropped,
    # so its unacknowledged message went back at once and the next worker gets it (seconds).
    # Redis keeps the message unacknowledged until the visibility timeout (an hour); the
    # stalled-order sweeper (beat) resumes the order once it made no progress for
    # BULK_ORDER_STALL_SECONDS (90 s), checking every BULK_ORDER_SWEEP_SECONDS (15 s): the
    # README's bound is 2 minutes from a worker being available.
    second = workers(beat=True, SIMULATED_CARRIER_DELAY_SECONDS=4)
    started = time.monotonic()
    wait_for(
        lambda: " ready." in second.log_path.read_text(),
        timeout=60,
        what="the new worker to be ready",
        processes=[second],
    )
    available = time.monotonic()
    wait_for(
        lambda: BulkOrder.objects.get(pk=order_id).status != "processing",
        timeout=150,
        what="the order to complete after the restart",
        processes=[second],
    )
    recovered = time.monotonic() - available
    print(
        f"\nrecovery ({'redelivery' if settings.BROKER_IS_RABBITMQ else 'sweeper'}, default "
        f"settings): order complete {recovered:.1f} s after the new worker was ready "
        f"({available - started:.1f} s after it was started)"
    )
    assert recovered < 120, "over the 2-minute bound of the README"
    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.assigned_count, order.failed_count) == ("complete", 5, 0)
    assert PhoneNumber.objects.filter(order_id=order.id, organization=org).count() == 5
    assert ledger(org)[1:] == [
        ("hold", 0, 500),
        ("charge", -200, -200),
        ("charge", -300, -300),
    ]
    assert_ledger_balances(org)
    assert_integrity()
