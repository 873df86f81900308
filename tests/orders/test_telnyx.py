"""Backorders filled from Telnyx: the adapter against the fake Telnyx over real HTTP on loopback,
fulfilment run through the service (the real-worker versions are in test_telnyx_worker.py)."""

import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from orders import services
from orders.models import BulkOrder, CarrierOrder, CarrierWebhookEvent
from phone_numbers.carriers import CarrierError
from phone_numbers.models import PhoneNumber
from phone_numbers.services import release as phone_number_services
from tests.fakes.telnyx import FakeTelnyx
from tests.support.factories import assert_ledger_balances, ledger, make_api, make_org

BULK = "/v1/phone-numbers/bulk"
WEBHOOK = "/carrier/telnyx/webhooks"


@pytest.fixture
def bob(db):
    org = make_org("Bob Numbers", credit_cents=10_000)
    return org, make_api(org)


def backorder(api, **body):
    response = api.post(BULK, {"quantity": 5, "area_code": "312", **body})
    assert response.status_code == 202, response.json()
    return response.json()["data"]["order_id"]


def fulfil_until_done(order_id, *, steps=10):
    """What the task does, without the broker: call again until nothing is left to do."""
    for _ in range(steps):
        if services.bulk_order_fulfil(order_id=order_id) is None:
            return
    raise AssertionError("fulfilment did not finish")


def test_it_fills_a_backorder_with_the_carriers_numbers(bob, telnyx):
    org, api = bob
    order_id = backorder(api, pattern="77")

    fulfil_until_done(order_id)

    data = api.get(f"{BULK}/{order_id}").json()["data"]
    assert (data["status"], data["assigned_count"], data["failed_count"]) == ("complete", 5, None)
    fake_order = telnyx.order_by_reference(f"{order_id}:1")
    assert data["assigned_numbers"] == sorted(fake_order.numbers)
    (request,) = telnyx.requests_to("POST", "/inexplicit_number_orders")
    assert request.headers["Authorization"] == "Bearer KEY-test"
    assert request.body == {
        "customer_reference": f"{order_id}:1",
        "ordering_groups": [
            {
                "count_requested": 5,
                "country_iso": "US",
                "phone_number_type": "local",
                "national_destination_code": "312",
                "phone_number": {"contains": "77"},
                "strategy": "always",
            }
        ],
    }
    (coverage,) = telnyx.requests_to("GET", "/inventory_coverage")
    assert coverage.query == {
        "filter[country_code]": "US",
        "filter[npa]": "312",
        "filter[phone_number_type]": "local",
        "filter[count]": "true",
        "filter[groupBy]": "npa",
    }
    (placement,) = CarrierOrder.objects.filter(bulk_order_id=order_id)
    assert (placement.status, placement.carrier, placement.carrier_order_id) == (
        "complete",
        "telnyx",
        fake_order.id,
    )
    assert (placement.requested_count, placement.allocated_count) == (5, 5)
    assert sorted(placement.numbers) == data["assigned_numbers"]
    assert ledger(org)[1:] == [("hold", 0, 500), ("charge", -500, -500)]
    assert_ledger_balances(org)


def test_partial_success_charges_what_arrived_and_releases_the_rest(bob, telnyx, settings):
    settings.CARRIER_MAX_PLACEMENTS = 2
    org, api = bob
    telnyx.script_order(outcome="partial_success", allocated=3)
    telnyx.script_order(outcome="partial_success", allocated=1)
    order_id = backorder(api, quantity=6)

    fulfil_until_done(order_id)

    data = api.get(f"{BULK}/{order_id}").json()["data"]
    assert (data["status"], data["assigned_count"], data["failed_count"]) == ("partial", 4, 2)
    first, second = CarrierOrder.objects.filter(bulk_order_id=order_id)
    assert (first.status, first.requested_count, first.allocated_count) == ("partial", 6, 3)
    assert (second.status, second.requested_count, second.allocated_count) == ("partial", 3, 1)
    # The top-up followed a fresh capacity check.
    assert len(telnyx.requests_to("GET", "/inventory_coverage")) == 2
    assert [r.body["ordering_groups"][0]["count_requested"] for r in telnyx.requests_to(
        "POST", "/inexplicit_number_orders"
    )] == [6, 3]  # fmt: skip
    assert ledger(org)[1:] == [
        ("hold", 0, 600),
        ("charge", -300, -300),
        ("charge", -100, -100),
        ("release", 0, -200),
    ]
    org.refresh_from_db()
    assert (org.balance_cents, org.held_cents) == (9_600, 0)
    assert_ledger_balances(org)


def test_it_ends_without_a_top_up_when_the_carrier_has_no_more(bob, telnyx):
    org, api = bob
    telnyx.script_order(outcome="partial_success", allocated=2)
    order_id = backorder(api, quantity=5)
    telnyx.coverage[("local", "312")] = 1  # after the first placement, not enough for 3 more

    fulfil_until_done(order_id)

    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.assigned_count, order.failed_count) == ("partial", 2, 3)
    assert order.close_reason == "carrier cannot supply the rest"
    assert len(telnyx.requests_to("POST", "/inexplicit_number_orders")) == 1
    assert_ledger_balances(org)


def test_a_429_is_retried_after_its_reset_and_places_once(bob, telnyx):
    org, api = bob
    telnyx.fail_next(
        "POST /inexplicit_number_orders", status=429, headers={"x-ratelimit-reset": "7"}
    )
    order_id = backorder(api)

    with pytest.raises(CarrierError) as raised:
        services.bulk_order_fulfil(order_id=order_id)
    assert raised.value.retry_after_seconds == 7
    fulfil_until_done(order_id)

    assert BulkOrder.objects.get(pk=order_id).status == "complete"
    # Two sends reached the fake, the first refused; the second was preceded by a lookup.
    assert len(telnyx.placements_for(f"{order_id}:1")) == 2
    lookups = [
        r
        for r in telnyx.requests_to("GET", "/inexplicit_number_orders")
        if r.path == "/inexplicit_number_orders"
    ]
    assert [r.query["filter[customer_reference]"] for r in lookups] == [f"{order_id}:1"]
    assert len(telnyx.orders) == 1
    assert_ledger_balances(org)


def test_a_5xx_then_success(bob, telnyx):
    org, api = bob
    telnyx.fail_next("POST /inexplicit_number_orders", status=503)
    telnyx.fail_next("GET /inexplicit_number_orders/*", status=500)
    order_id = backorder(api)

    with pytest.raises(CarrierError):
        services.bulk_order_fulfil(order_id=order_id)
    placement = CarrierOrder.objects.get(bulk_order_id=order_id)
    assert (placement.status, placement.attempts) == ("intent", 1)
    assert "503" in placement.last_error
    with pytest.raises(CarrierError):  # placed now; the first check fails
        services.bulk_order_fulfil(order_id=order_id)
    fulfil_until_done(order_id)

    assert BulkOrder.objects.get(pk=order_id).assigned_count == 5
    assert len(telnyx.orders) == 1
    assert_ledger_balances(org)


def test_a_timeout_is_transient_and_the_order_is_found_not_placed_again(bob, telnyx, settings):
    settings.TELNYX_TIMEOUT_SECONDS = 0.5
    org, api = bob
    order_id = backorder(api)
    telnyx.delays["POST /inexplicit_number_orders"] = 1.5  # the carrier takes it, answers late

    started = time.monotonic()
    with pytest.raises(CarrierError):
        services.bulk_order_fulfil(order_id=order_id)
    assert time.monotonic() - started < 1.4
    telnyx.delays.clear()
    time.sleep(1.2)  # the fake has created the order by now
    fulfil_until_done(order_id)

    assert BulkOrder.objects.get(pk=order_id).status == "complete"
    assert len(telnyx.orders) == 1
    assert len(telnyx.placements_for(f"{order_id}:1")) == 1


def test_a_refused_order_fails_and_releases_the_hold(bob, telnyx):
    org, api = bob
    telnyx.fail_next("POST /inexplicit_number_orders", status=422, code="10015")
    order_id = backorder(api)

    fulfil_until_done(order_id)

    data = api.get(f"{BULK}/{order_id}").json()["data"]
    assert (data["status"], data["assigned_count"], data["failed_count"]) == ("failed", 0, 5)
    placement = CarrierOrder.objects.get(bulk_order_id=order_id)
    assert placement.status == "failed"
    assert placement.last_error == "HTTP 422: 10015 - Error - scripted 422 from the fake"
    assert ledger(org)[1:] == [("hold", 0, 500), ("release", 0, -500)]
    assert len(telnyx.requests_to("POST", "/inexplicit_number_orders")) == 1


def test_a_number_outside_the_area_code_goes_to_inventory_not_to_the_order(bob, telnyx, settings):
    settings.CARRIER_MAX_PLACEMENTS = 2
    org, api = bob
    telnyx.script_order(numbers=["+13125550101", "+14155550102", "+13125550103"])
    telnyx.script_order(outcome="failed")
    order_id = backorder(api, quantity=3)

    fulfil_until_done(order_id)

    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.assigned_count, order.failed_count) == ("partial", 2, 1)
    stray = PhoneNumber.objects.get(number="+14155550102")
    assert (stray.state, stray.organization_id, stray.order_id) == ("available", None, None)
    assert sorted(
        PhoneNumber.objects.filter(order_id=order_id).values_list("number", flat=True)
    ) == ["+13125550101", "+13125550103"]
    assert [a for k, a, _ in ledger(org) if k == "charge"] == [-200]
    assert_ledger_balances(org)


def test_the_capacity_check_is_cached_per_type_and_area_code(bob, telnyx):
    _, api = bob
    backorder(api, area_code="312")
    backorder(api, area_code="312")
    backorder(api, area_code="646")

    assert [r.query["filter[npa]"] for r in telnyx.requests_to("GET", "/inventory_coverage")] == [
        "312",
        "646",
    ]


def test_it_answers_409_when_the_carrier_cannot_supply(bob, telnyx):
    _, api = bob
    telnyx.coverage[("local", "312")] = 4

    response = api.post(BULK, {"quantity": 5, "area_code": "312"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "INSUFFICIENT_INVENTORY"
    assert not BulkOrder.objects.exists()


def test_a_carrier_outage_is_a_503_with_retry_after_and_records_nothing(bob, telnyx):
    org, api = bob
    telnyx.fail_next("GET /inventory_coverage", status=500)

    response = api.post(BULK, {"quantity": 5, "area_code": "312"})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert int(response["Retry-After"]) >= 5
    assert not BulkOrder.objects.exists()
    assert len(ledger(org)) == 1  # the top-up only: nothing held
    # Not cached: the next request asks again and succeeds.
    assert api.post(BULK, {"quantity": 5, "area_code": "312"}).status_code == 202


def test_staff_close_cancels_the_pending_sub_order_and_a_late_delivery_goes_to_inventory(
    bob, telnyx
):
    org, api = bob
    telnyx.script_order(polls=100)
    order_id = backorder(api, quantity=4)
    assert services.bulk_order_fulfil(order_id=order_id) > 0  # placed, pending at Telnyx

    services.bulk_order_cancel(
        organization_id=None, order_id=order_id, by="staff", reason="customer gave up"
    )
    assert services.carrier_orders_cancel(order_id=order_id) == 1
    fake_order = telnyx.order_by_reference(f"{order_id}:1")
    (cancel,) = telnyx.requests_to("PATCH", "/sub_number_orders/")
    assert cancel.path == f"/sub_number_orders/{fake_order.sub_order_id}/cancel"
    fulfil_until_done(order_id)

    placement = CarrierOrder.objects.get(bulk_order_id=order_id)
    assert placement.status == "cancelled"
    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.assigned_count, order.failed_count) == ("failed", 0, 4)
    assert ledger(org)[1:] == [("hold", 0, 400), ("release", 0, -400)]


def test_numbers_delivered_after_a_close_go_to_inventory_uncharged(bob, telnyx):
    org, api = bob
    telnyx.script_order(polls=1)
    order_id = backorder(api, quantity=3)
    assert services.bulk_order_fulfil(order_id=order_id) > 0
    services.bulk_order_cancel(
        organization_id=None, order_id=order_id, by="staff", reason="too slow"
    )

    fulfil_until_done(order_id)  # the carrier finished: its numbers arrive now

    numbers = telnyx.order_by_reference(f"{order_id}:1").numbers
    assert len(numbers) == 3
    for row in PhoneNumber.objects.filter(number__in=numbers):
        assert (row.state, row.organization_id, row.order_id) == ("available", None, None)
    assert CarrierOrder.objects.get(bulk_order_id=order_id).assigned_count == 0
    assert [k for k, *_ in ledger(org)] == ["topup", "hold", "release"]


def test_return_to_carrier_deletes_the_number_at_telnyx(
    bob, telnyx, django_capture_on_commit_callbacks
):
    org, api = bob
    order_id = backorder(api, quantity=1)
    fulfil_until_done(order_id)
    number = PhoneNumber.objects.get(order_id=order_id)

    with django_capture_on_commit_callbacks() as callbacks:
        response = api.delete(f"/v1/phone-numbers/{number.id}?return_to_carrier=true")
    assert response.status_code == 200
    assert len(callbacks) == 1  # the carrier is called after commit, by a task
    assert phone_number_services.carrier_numbers_return(numbers=[number.number]) == 1

    (lookup,) = telnyx.requests_to("GET", "/phone_numbers")
    assert lookup.query == {"filter[phone_number]": number.number}
    (delete,) = telnyx.requests_to("DELETE", "/phone_numbers/")
    assert delete.path == f"/phone_numbers/{telnyx.phone_numbers[number.number]['id']}"
    assert telnyx.phone_numbers[number.number]["status"] == "deleted"
    # Again (a retried task): the carrier no longer holds it, nothing is deleted twice.
    assert phone_number_services.carrier_numbers_return(numbers=[number.number]) == 0


def signed_post(fake, body: bytes, **overrides):
    headers = fake.signed_headers(body, timestamp=overrides.pop("timestamp", None))
    headers.update(overrides)
    return Client().post(
        WEBHOOK,
        body,
        content_type="application/json",
        headers=headers,
    )


def test_a_signed_webhook_schedules_fulfilment_once_per_event(
    bob, telnyx, django_capture_on_commit_callbacks
):
    _, api = bob
    order_id = backorder(api)
    services.bulk_order_fulfil(order_id=order_id)
    body = telnyx.number_order_complete_event(
        telnyx.order_by_reference(f"{order_id}:1").id, event_id="evt-1"
    )

    with django_capture_on_commit_callbacks() as callbacks:
        first = signed_post(telnyx, body)
        replay = signed_post(telnyx, body)

    assert (first.status_code, first.json()) == (200, {"success": True, "applied": True})
    assert (replay.status_code, replay.json()) == (200, {"success": True, "applied": False})
    assert len(callbacks) == 1  # one fulfilment enqueued
    event = CarrierWebhookEvent.objects.get()
    assert (event.event_id, str(event.bulk_order_id)) == ("evt-1", order_id)


@pytest.mark.parametrize("case", ["tampered", "wrong_key", "stale", "missing"])
def test_a_badly_signed_webhook_is_401_and_changes_nothing(bob, telnyx, case):
    _, api = bob
    order_id = backorder(api)
    services.bulk_order_fulfil(order_id=order_id)
    body = telnyx.number_order_complete_event(telnyx.order_by_reference(f"{order_id}:1").id)
    if case == "tampered":
        headers = telnyx.signed_headers(body)
        body = body.replace(b"number_order.complete", b"number_order.COMPLETE")
        response = Client().post(WEBHOOK, body, content_type="application/json", headers=headers)
    elif case == "wrong_key":
        other = FakeTelnyx()  # another key pair (never started)
        response = signed_post(other, body)
        other.server.server_close()
    elif case == "stale":
        response = signed_post(telnyx, body, timestamp=int(time.time()) - 301)
    else:
        response = Client().post(WEBHOOK, body, content_type="application/json")

    assert response.status_code == 401
    assert not CarrierWebhookEvent.objects.exists()
    assert BulkOrder.objects.get(pk=order_id).status == "processing"


def test_the_webhook_refuses_a_body_over_its_cap(bob, telnyx, settings):
    settings.CARRIER_WEBHOOK_MAX_BODY_BYTES = 1024
    body = json.dumps({"data": {"id": "x", "padding": "p" * 2000}}).encode()

    response = signed_post(telnyx, body)

    assert response.status_code == 413
    assert not CarrierWebhookEvent.objects.exists()


def test_the_sweeper_follows_a_placement_still_open_after_its_order_ended(
    bob, telnyx, settings, django_capture_on_commit_callbacks
):
    settings.BULK_ORDER_STALL_SECONDS = 60
    _, api = bob
    telnyx.script_order(polls=100)
    order_id = backorder(api, quantity=2)
    services.bulk_order_fulfil(order_id=order_id)
    services.bulk_order_cancel(
        organization_id=None, order_id=order_id, by="staff", reason="closed while the carrier works"
    )
    CarrierOrder.objects.filter(bulk_order_id=order_id).update(
        updated_at=timezone.now() - timedelta(seconds=61)
    )

    with django_capture_on_commit_callbacks() as callbacks:
        assert services.bulk_orders_resume_stalled() == [order_id]
        assert services.bulk_orders_resume_stalled() == []

    assert len(callbacks) == 1


def test_the_lookup_by_reference_falls_back_to_listing_when_the_filter_is_ignored(bob, telnyx):
    from phone_numbers.carriers.telnyx import TelnyxCarrier

    _, api = bob
    other, mine = backorder(api), backorder(api)
    services.bulk_order_fulfil(order_id=other)
    services.bulk_order_fulfil(order_id=mine)
    telnyx.honour_reference_filter = False

    found = TelnyxCarrier().find_order(customer_reference=f"{mine}:1")

    assert found == telnyx.order_by_reference(f"{mine}:1").id
    assert TelnyxCarrier().find_order(customer_reference=f"{mine}:2") is None
    telnyx.fail_next("GET /inexplicit_number_orders", status=400)
    assert TelnyxCarrier().find_order(customer_reference=f"{mine}:1") == found


def _carrier_cancels(callbacks) -> int:
    """How many carrier cancels the captured on-commit callbacks would enqueue."""
    return sum("enqueue_carrier_cancel" in callback.__qualname__ for callback in callbacks)


def test_a_client_cancel_cancels_the_pending_sub_order_at_the_carrier(
    bob, telnyx, django_capture_on_commit_callbacks
):
    org, api = bob
    telnyx.script_order(polls=100)
    order_id = backorder(api, quantity=2)
    assert services.bulk_order_fulfil(order_id=order_id) > 0  # placed, pending at Telnyx

    with django_capture_on_commit_callbacks() as callbacks:
        assert api.post(f"{BULK}/{order_id}/cancel").status_code == 200
    assert _carrier_cancels(callbacks) == 1

    assert services.carrier_orders_cancel(order_id=order_id) == 1
    (cancel,) = telnyx.requests_to("PATCH", "/sub_number_orders/")
    assert cancel.path.endswith("/cancel")
    fulfil_until_done(order_id)
    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.ended_by, order.failed_count) == ("failed", "client", 2)
    assert ledger(org)[1:] == [("hold", 0, 200), ("release", 0, -200)]


def test_a_passed_fill_by_ends_the_order_cancels_at_the_carrier_and_places_nothing_more(
    bob, telnyx, django_capture_on_commit_callbacks
):
    org, api = bob
    telnyx.script_order(polls=100)
    fill_by = (timezone.now() + timedelta(hours=1)).isoformat()
    order_id = backorder(api, quantity=4, fill_by=fill_by)
    assert services.bulk_order_fulfil(order_id=order_id) > 0  # placed, pending at Telnyx
    BulkOrder.objects.filter(pk=order_id).update(fill_by=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks() as callbacks:
        # Fulfilment itself ends the overdue order, and keeps following its placement.
        assert services.bulk_order_fulfil(order_id=order_id) > 0
    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.ended_by) == ("failed", "deadline")
    assert order.cancelled_at is not None
    assert _carrier_cancels(callbacks) == 1

    assert services.carrier_orders_cancel(order_id=order_id) == 1
    fulfil_until_done(order_id)
    assert CarrierOrder.objects.filter(bulk_order_id=order_id).count() == 1  # no top-up
    assert len(telnyx.requests_to("POST", "/inexplicit_number_orders")) == 1
    assert ledger(org)[1:] == [("hold", 0, 400), ("release", 0, -400)]


def test_the_digit_criteria_reach_telnyx_as_its_phone_number_filters(bob, telnyx):
    org, api = bob
    order_id = backorder(api, starts_with="5", ends_with="CALL", contains="55")

    services.bulk_order_fulfil(order_id=order_id)

    (request,) = telnyx.requests_to("POST", "/inexplicit_number_orders")
    (group,) = request.body["ordering_groups"]
    assert group["national_destination_code"] == "312"
    assert group["phone_number"] == {"contains": "55", "starts_with": "5", "ends_with": "2255"}


def test_an_exchange_reaches_telnyx_as_the_prefix_after_the_area_code(bob, telnyx):
    org, api = bob
    order_id = backorder(api, exchange="555", features=["voice", "sms"])

    services.bulk_order_fulfil(order_id=order_id)

    (request,) = telnyx.requests_to("POST", "/inexplicit_number_orders")
    (group,) = request.body["ordering_groups"]
    # Telnyx has no feature filter: features are checked on delivery.
    assert group["phone_number"] == {"starts_with": "555"}


def test_a_delivered_number_that_misses_any_criterion_goes_to_inventory(bob, telnyx, settings):
    settings.CARRIER_MAX_PLACEMENTS = 1
    org, api = bob
    matching = ["+13125552255", "+13125559255"]  # exchange 555, ending 255 (BLL on the keypad)
    wrong_exchange, wrong_ending = "+13126662255", "+13125550000"
    telnyx.script_order(numbers=[matching[0], wrong_exchange, wrong_ending, matching[1]])
    order_id = backorder(api, quantity=4, exchange="555", ends_with="BLL")

    fulfil_until_done(order_id)

    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.assigned_count, order.failed_count) == ("partial", 2, 2)
    assert (
        sorted(PhoneNumber.objects.filter(order_id=order_id).values_list("number", flat=True))
        == matching
    )
    for stray in (wrong_exchange, wrong_ending):
        row = PhoneNumber.objects.get(number=stray)
        assert (row.state, row.organization_id, row.order_id) == ("available", None, None)
    assert [a for k, a, _ in ledger(org) if k == "charge"] == [-200]
    assert_ledger_balances(org)
