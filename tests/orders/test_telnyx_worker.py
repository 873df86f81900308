"""Backorders filled from the fake Telnyx by a real Celery worker process on the real broker."""

import pytest

from orders.models import BulkOrder, CarrierOrder
from phone_numbers.models import PhoneNumber
from tests.orders.test_worker import workers  # noqa: F401 (the fixture)
from tests.support.factories import assert_ledger_balances, ledger, make_api, make_org
from tests.support.processes import wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("number_prices"),
]
BULK = "/v1/phone-numbers/bulk"


def telnyx_env(fake, **extra):
    return {
        "CARRIER_BACKEND": "telnyx",
        "TELNYX_API_KEY": "KEY-test",
        "TELNYX_API_BASE_URL": fake.base_url,
        "TELNYX_PUBLIC_KEY": fake.public_key_b64(),
        "TELNYX_TIMEOUT_SECONDS": 3,
        **extra,
    }


def place(api, **body):
    response = api.post(BULK, {"quantity": 5, "area_code": "312", **body})
    assert response.status_code == 202, response.json()
    return response.json()["data"]["order_id"]


def ended(order_id, worker, timeout=60):
    return wait_for(
        lambda: (
            BulkOrder.objects.get(pk=order_id).status != "processing"
            and BulkOrder.objects.get(pk=order_id)
        ),
        timeout=timeout,
        what="the order to end",
        processes=[worker],
    )


def test_a_backorder_completes_with_the_carriers_numbers(workers, telnyx):  # noqa: F811
    worker = workers(**telnyx_env(telnyx))
    org = make_org("Telnyx E2E", credit_cents=10_000)
    api = make_api(org)
    telnyx.script_order(polls=2)

    order_id = place(api, pattern="42")
    order = ended(order_id, worker)

    assert (order.status, order.assigned_count) == ("complete", 5)
    numbers = sorted(PhoneNumber.objects.filter(order_id=order_id).values_list("number", flat=True))
    assert numbers == sorted(telnyx.order_by_reference(f"{order_id}:1").numbers)
    assert all(n.startswith("+1312") and "42" in n for n in numbers)
    (request,) = telnyx.placements_for(f"{order_id}:1")
    assert request.body["ordering_groups"] == [
        {
            "count_requested": 5,
            "country_iso": "US",
            "phone_number_type": "local",
            "national_destination_code": "312",
            "phone_number": {"contains": "42"},
            "strategy": "always",
        }
    ]
    assert ledger(org)[1:] == [("hold", 0, 500), ("charge", -500, -500)]
    assert_ledger_balances(org)


def test_partial_success_charges_exactly_what_arrived(workers, telnyx):  # noqa: F811
    worker = workers(**telnyx_env(telnyx, CARRIER_MAX_PLACEMENTS=1))
    org = make_org("Telnyx partial", credit_cents=10_000)
    api = make_api(org)
    telnyx.script_order(outcome="partial_success", allocated=2)

    order = ended(place(api), worker)

    assert (order.status, order.assigned_count, order.failed_count) == ("partial", 2, 3)
    assert ledger(org)[1:] == [("hold", 0, 500), ("charge", -200, -200), ("release", 0, -300)]
    org.refresh_from_db()
    assert (org.balance_cents, org.held_cents) == (9_800, 0)
    assert_ledger_balances(org)


def test_a_429_and_a_5xx_are_retried_and_the_order_completes(workers, telnyx):  # noqa: F811
    worker = workers(**telnyx_env(telnyx))
    org = make_org("Telnyx flaky", credit_cents=10_000)
    api = make_api(org)
    telnyx.fail_next(
        "POST /inexplicit_number_orders", status=429, headers={"x-ratelimit-reset": "1"}
    )
    telnyx.fail_next("GET /inexplicit_number_orders/*", status=502)

    order_id = place(api)
    order = ended(order_id, worker)

    assert (order.status, order.assigned_count) == ("complete", 5)
    assert len(telnyx.orders) == 1  # one purchase, whatever the retries
    assert len(telnyx.placements_for(f"{order_id}:1")) == 2  # the refused one and the real one
    assert_ledger_balances(org)


def test_a_refused_order_ends_failed_with_its_hold_released(workers, telnyx):  # noqa: F811
    worker = workers(**telnyx_env(telnyx))
    org = make_org("Telnyx refused", credit_cents=10_000)
    api = make_api(org)
    telnyx.fail_next("POST /inexplicit_number_orders", status=400, code="10015")

    order_id = place(api)
    order = ended(order_id, worker)

    assert (order.status, order.failed_count) == ("failed", 5)
    assert "10015" in CarrierOrder.objects.get(bulk_order_id=order_id).last_error
    assert ledger(org)[1:] == [("hold", 0, 500), ("release", 0, -500)]
    assert_ledger_balances(org)


def test_a_number_outside_the_area_code_lands_in_inventory(workers, telnyx):  # noqa: F811
    worker = workers(**telnyx_env(telnyx, CARRIER_MAX_PLACEMENTS=1))
    org = make_org("Telnyx stray", credit_cents=10_000)
    api = make_api(org)
    telnyx.script_order(numbers=["+13125550101", "+16465550102"])

    order_id = place(api, quantity=2)
    order = ended(order_id, worker)

    assert (order.status, order.assigned_count, order.failed_count) == ("partial", 1, 1)
    stray = PhoneNumber.objects.get(number="+16465550102")
    assert (stray.state, stray.organization_id, stray.order_id) == ("available", None, None)
    assert PhoneNumber.objects.get(number="+13125550101").organization_id == org.id


def test_no_duplicate_purchase_when_the_worker_dies_after_the_carrier_accepted(
    workers,  # noqa: F811
    telnyx,
):
    """SIGKILL between "the carrier created the order" and "we recorded its id": the worker
    that comes back finds the order by customer_reference instead of buying it again."""
    telnyx.hold_create.set()  # the fake creates the order, then holds its answer
    first = workers(**telnyx_env(telnyx))
    org = make_org("Telnyx killed", credit_cents=10_000)
    api = make_api(org)
    order_id = place(api)
    reference = f"{order_id}:1"

    assert telnyx.create_received.wait(40), first.output()
    first.kill()
    placement = CarrierOrder.objects.get(bulk_order_id=order_id)
    assert (placement.status, placement.carrier_order_id, placement.attempts) == ("intent", None, 1)
    assert telnyx.order_by_reference(reference) is not None  # the carrier has it
    telnyx.hold_create.clear()
    telnyx.release_create.set()

    # The stalled-order sweeper resumes the order (scaled down here, as in test_worker.py).
    recovery = {
        "BULK_ORDER_STALL_SECONDS": 2,
        "BULK_ORDER_SWEEP_SECONDS": 1,
        "BULK_ORDER_MAX_RECHECK_SECONDS": 1,
    }
    second = workers(beat=True, **telnyx_env(telnyx, **recovery))
    order = ended(order_id, second, timeout=90)

    assert (order.status, order.assigned_count) == ("complete", 5)
    assert len(telnyx.placements_for(reference)) == 1  # exactly one purchase for the reference
    assert len(telnyx.orders) == 1
    placement.refresh_from_db()
    assert (placement.status, placement.carrier_order_id) == (
        "complete",
        telnyx.order_by_reference(reference).id,
    )
    assert ledger(org)[1:] == [("hold", 0, 500), ("charge", -500, -500)]
    assert_ledger_balances(org)
