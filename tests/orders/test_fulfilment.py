"""Fulfilment of backorders, run through the service directly (no worker needed)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api.errors import OrderNotProcessing
from orders import services
from orders.models import BulkOrder, CarrierOrder
from orders.staff_services import staff_order_close
from phone_numbers.carriers import CarrierError, get_carrier
from phone_numbers.carriers.simulated import SimulatedCarrier
from phone_numbers.models import PhoneNumber
from tests.support.factories import assert_ledger_balances, ledger, make_numbers

BULK = "/v1/phone-numbers/bulk"


def backorder(api, **body):
    response = api.post(BULK, {"quantity": 10, **body})
    assert response.status_code == 202, response.json()
    return response.json()["data"]["order_id"]


def test_it_ends_partial_with_a_failure_rate(alice, alice_org, fast_carrier):
    fast_carrier.SIMULATED_CARRIER_FAILURE_RATE = 0.5
    fast_carrier.CARRIER_MAX_PLACEMENTS = 1
    order_id = backorder(alice, quantity=40, area_code="312")

    services.bulk_order_fulfil(order_id=order_id)

    data = alice.get(f"{BULK}/{order_id}").json()["data"]
    assert data["status"] == "partial"
    assert 0 < data["assigned_count"] < 40
    assert data["assigned_count"] + data["failed_count"] == 40
    assert data["pending_count"] == 0
    assert len(data["assigned_numbers"]) == data["assigned_count"]
    assigned, failed = data["assigned_count"], data["failed_count"]
    assert ledger(alice_org)[1:] == [
        ("hold", 0, 4_000),
        ("charge", -100 * assigned, -100 * assigned),
        ("release", 0, -100 * failed),
    ]
    assert_ledger_balances(alice_org)
    alice_org.refresh_from_db()
    assert (alice_org.balance_cents, alice_org.held_cents) == (10_000 - 100 * assigned, 0)


def test_it_tops_up_a_partial_placement_up_to_the_placement_limit(alice, alice_org, fast_carrier):
    fast_carrier.SIMULATED_CARRIER_FAILURE_RATE = 0.5
    order_id = backorder(alice, quantity=40, area_code="312")

    services.bulk_order_fulfil(order_id=order_id)

    placements = list(CarrierOrder.objects.filter(bulk_order_id=order_id))
    assert [p.sequence for p in placements] == [1, 2, 3]
    assert [p.customer_reference for p in placements] == [f"{order_id}:{n}" for n in (1, 2, 3)]
    # Each top-up asks for exactly what is still missing.
    assert placements[0].requested_count == 40
    for before, after in zip(placements, placements[1:], strict=False):
        assert after.requested_count == before.requested_count - before.assigned_count
    order = BulkOrder.objects.get(pk=order_id)
    assert order.assigned_count == sum(p.assigned_count for p in placements)
    assert order.status in ("partial", "complete")
    charges = [amount for kind, amount, _ in ledger(alice_org) if kind == "charge"]
    assert sum(charges) == -100 * order.assigned_count
    assert_ledger_balances(alice_org)
    alice_org.refresh_from_db()
    assert alice_org.held_cents == 0


def test_it_ends_failed_when_every_number_fails(alice, alice_org, fast_carrier):
    fast_carrier.SIMULATED_CARRIER_FAILURE_RATE = 1
    order_id = backorder(alice, quantity=5)

    services.bulk_order_fulfil(order_id=order_id)

    data = alice.get(f"{BULK}/{order_id}").json()["data"]
    assert (data["status"], data["assigned_count"], data["failed_count"]) == ("failed", 0, 5)
    assert data["assigned_numbers"] == []
    assert ledger(alice_org)[1:] == [("hold", 0, 500), ("release", 0, -500)]
    alice_org.refresh_from_db()
    assert (alice_org.balance_cents, alice_org.held_cents) == (10_000, 0)


def test_it_keeps_inventory_numbers_when_the_carrier_fails(alice, alice_org, fast_carrier):
    fast_carrier.SIMULATED_CARRIER_FAILURE_RATE = 1
    order_id = backorder(alice, quantity=5)
    make_numbers(2)  # became available after the order was placed

    services.bulk_order_fulfil(order_id=order_id)

    data = alice.get(f"{BULK}/{order_id}").json()["data"]
    assert (data["status"], data["assigned_count"], data["failed_count"]) == ("partial", 2, 3)
    assert data["assigned_numbers"] == ["+14155557001", "+14155557002"]
    assert_ledger_balances(alice_org)


def test_it_checks_back_while_the_carrier_is_working(alice, alice_org, fast_carrier):
    fast_carrier.SIMULATED_CARRIER_DELAY_SECONDS = 30
    order_id = backorder(alice, quantity=3)

    recheck = services.bulk_order_fulfil(order_id=order_id)

    assert 25 < recheck <= 30
    order = BulkOrder.objects.get(pk=order_id)
    assert order.status == "processing"
    (placement,) = CarrierOrder.objects.filter(bulk_order_id=order_id)
    assert placement.carrier_order_id.startswith("sim:")
    assert (placement.status, placement.requested_count) == ("placed", 3)
    # Checking again does not order twice.
    services.bulk_order_fulfil(order_id=order_id)
    (again,) = CarrierOrder.objects.filter(bulk_order_id=order_id)
    assert again.carrier_order_id == placement.carrier_order_id


def test_it_fails_the_order_when_the_area_code_became_unavailable(alice, alice_org, fast_carrier):
    order_id = backorder(alice, quantity=3, area_code="646")
    fast_carrier.SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES = ["646"]

    services.bulk_order_fulfil(order_id=order_id)

    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.failed_count) == ("failed", 3)
    assert_ledger_balances(alice_org)
    alice_org.refresh_from_db()
    assert alice_org.held_cents == 0


def test_it_does_nothing_for_a_finished_order(alice, alice_org, fast_carrier):
    order_id = backorder(alice, quantity=3)
    services.bulk_order_fulfil(order_id=order_id)
    entries = ledger(alice_org)

    assert services.bulk_order_fulfil(order_id=order_id) is None

    assert ledger(alice_org) == entries
    assert PhoneNumber.objects.filter(order_id=order_id).count() == 3


def test_it_keeps_the_intent_and_retries_after_a_carrier_error(
    alice, alice_org, fast_carrier, monkeypatch
):
    make_numbers(1)
    order_id = backorder(alice, quantity=3)

    def carrier_down(self, **kwargs):
        raise CarrierError("carrier unreachable")

    monkeypatch.setattr(SimulatedCarrier, "place_order", carrier_down)
    with pytest.raises(CarrierError):
        services.bulk_order_fulfil(order_id=order_id)

    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.assigned_count) == ("processing", 1)
    (placement,) = CarrierOrder.objects.filter(bulk_order_id=order_id)
    assert (placement.status, placement.carrier_order_id) == ("intent", None)
    assert (placement.attempts, placement.last_error) == (1, "carrier unreachable")
    assert [kind for kind, *_ in ledger(alice_org)] == ["topup", "hold", "charge"]
    monkeypatch.undo()

    services.bulk_order_fulfil(order_id=order_id)

    assert BulkOrder.objects.get(pk=order_id).status == "complete"
    (placement,) = CarrierOrder.objects.filter(bulk_order_id=order_id)
    assert (placement.status, placement.attempts, placement.requested_count) == ("complete", 2, 2)
    assert_ledger_balances(alice_org)


def test_staff_close_fails_the_remainder_and_releases_its_hold(alice, alice_org, settings):
    settings.SIMULATED_CARRIER_DELAY_SECONDS = 60
    make_numbers(1)
    order_id = backorder(alice, quantity=4)
    services.bulk_order_fulfil(order_id=order_id)  # takes the one, waits for the carrier

    order = services.bulk_order_cancel(
        organization_id=None, order_id=order_id, by="staff", reason="carrier outage"
    )

    assert (order.status, order.assigned_count, order.failed_count) == ("partial", 1, 3)
    assert (order.close_reason, order.ended_by) == ("carrier outage", "staff")
    assert order.cancelled_at is not None
    assert ledger(alice_org)[1:] == [
        ("hold", 0, 400),
        ("charge", -100, -100),
        ("release", 0, -300),
    ]
    with pytest.raises(OrderNotProcessing):
        services.bulk_order_cancel(
            organization_id=None, order_id=order_id, by="staff", reason="again"
        )
    # The carrier order is still followed (its delivery will go to inventory), never to the
    # order.
    assert services.bulk_order_fulfil(order_id=order_id) > 0
    assert PhoneNumber.objects.filter(order_id=order_id).count() == 1
    assert BulkOrder.objects.get(pk=order_id).status == "partial"


def test_staff_close_needs_a_reason(alice, django_user_model):
    order_id = backorder(alice, quantity=2)
    staff = django_user_model.objects.create_user("support", is_staff=True)

    with pytest.raises(ValueError):
        staff_order_close(user=staff, order_id=order_id, reason="  ")
    assert BulkOrder.objects.get(pk=order_id).status == "processing"


def test_it_resumes_stalled_orders_once_per_stall_period(
    alice, settings, django_capture_on_commit_callbacks
):
    settings.BULK_ORDER_STALL_SECONDS = 60
    stalled = backorder(alice, quantity=2)
    fresh = backorder(alice, quantity=2)
    BulkOrder.objects.filter(pk=stalled).update(
        progressed_at=timezone.now() - timedelta(seconds=61)
    )

    with django_capture_on_commit_callbacks() as callbacks:
        assert services.bulk_orders_resume_stalled() == [stalled]
        assert services.bulk_orders_resume_stalled() == []

    assert len(callbacks) == 1
    assert fresh not in services.bulk_orders_resume_stalled()


def test_the_retry_service_skips_finished_orders(alice, fast_carrier):
    order_id = backorder(alice, quantity=2)
    assert services.bulk_order_retry(order_id=order_id) is True
    services.bulk_order_fulfil(order_id=order_id)

    assert services.bulk_order_retry(order_id=order_id) is False


def test_the_simulated_carrier_answers_the_same_delivery_from_any_process(settings):
    settings.SIMULATED_CARRIER_DELAY_SECONDS = 0
    settings.SIMULATED_CARRIER_FAILURE_RATE = 0.3
    from phone_numbers.allocation import Criteria

    ref = get_carrier().place_order(
        criteria=Criteria(number_type="toll_free", area_code="888"),
        quantity=50,
        customer_reference="x:1",
    )
    first, second = SimulatedCarrier().check_order(ref), SimulatedCarrier().check_order(ref)

    assert first == second
    assert len(first.numbers) + first.failed_count == 50
    assert all(n.startswith("+1888") and len(n) == 12 for n in first.numbers)
