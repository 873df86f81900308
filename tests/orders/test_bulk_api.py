"""POST/GET /v1/phone-numbers/bulk: every response of the product page, by example."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from accounts import scopes
from accounts.models import CreditTransaction
from orders.models import BulkOrder
from orders.serializers import BulkOrderPlacementSerializer
from orders.services import bulk_order_fulfil
from phone_numbers.models import NumberPrice, PhoneNumber
from phone_numbers.serializers import PATTERN_MESSAGE
from tests.support.factories import assert_ledger_balances, ledger, make_api, make_numbers, make_org

BULK = "/v1/phone-numbers/bulk"
ROUTING = {
    "inbound_url": "https://customer.example/inbound",
    "status_url": "https://customer.example/status",
    "label": "support-pool",
}


def test_it_fills_an_order_from_inventory_at_once(alice, alice_org):
    make_numbers(3)
    make_numbers(2, area_code="212")

    response = alice.post(
        BULK,
        {"quantity": 3, "number_type": "local", "area_code": "415", "pattern": "555", **ROUTING},
    )

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {
            "order_id": None,
            "status": "complete",
            "quantity": 3,
            "assigned_count": 3,
            "pending_count": 0,
            "assigned_numbers": ["+14155557001", "+14155557002", "+14155557003"],
        },
    }
    numbers = PhoneNumber.objects.filter(organization=alice_org)
    assert numbers.count() == 3
    assert {(n.state, n.inbound_url, n.status_url, n.label) for n in numbers} == {
        ("assigned", ROUTING["inbound_url"], ROUTING["status_url"], "support-pool")
    }
    order = BulkOrder.objects.get()
    assert (order.status, order.is_backorder, order.assigned_count) == ("complete", False, 3)
    assert order.request_id == response["X-Request-Id"]
    assert set(numbers.values_list("order_id", flat=True)) == {order.id}
    assert ledger(alice_org)[-1] == ("charge", -300, 0)
    alice_org.refresh_from_db()
    assert (alice_org.balance_cents, alice_org.held_cents) == (9_700, 0)


def test_the_order_id_in_an_immediate_charge_resolves_but_is_not_a_backorder(alice):
    make_numbers(2)
    alice.post(BULK, {"quantity": 2, "area_code": "415"})
    charge = alice.get("/v1/billing/transactions").json()["data"][0]

    order = alice.get(f"{BULK}/{charge['order_id']}")

    assert charge["kind"] == "charge"
    assert order.status_code == 200
    assert order.json()["data"]["status"] == "complete"
    assert order.json()["data"]["assigned_count"] == 2
    assert alice.get(BULK).json()["data"] == []


def test_it_charges_the_toll_free_price(alice, alice_org):
    make_numbers(2, area_code="800", number_type="toll_free")

    response = alice.post(BULK, {"quantity": 2, "number_type": "toll_free"})

    assert response.status_code == 200
    assert ledger(alice_org)[-1] == ("charge", -400, 0)


def test_a_price_edit_applies_to_the_next_order(alice, alice_org):
    """The price is read with the organization's lock, in the same statement: each order
    reads the price of its own moment, for its number type."""
    make_numbers(3)
    alice.post(BULK, {"quantity": 1})
    NumberPrice.objects.filter(number_type="local").update(price_cents=275)
    NumberPrice.objects.filter(number_type="toll_free").update(price_cents=999)

    response = alice.post(BULK, {"quantity": 2})

    assert response.status_code == 200
    assert ledger(alice_org)[-2:] == [("charge", -100, 0), ("charge", -550, 0)]
    prices = sorted(BulkOrder.objects.values_list("unit_price_cents", flat=True))
    assert prices == [100, 275]
    assert_ledger_balances(alice_org)


def test_it_backorders_when_inventory_is_short(
    alice, alice_org, django_capture_on_commit_callbacks
):
    make_numbers(2)

    with django_capture_on_commit_callbacks() as callbacks:
        response = alice.post(BULK, {"quantity": 100, "area_code": "415", **ROUTING})

    assert response.status_code == 202
    order = BulkOrder.objects.get()
    assert response["Location"] == f"/v1/phone-numbers/bulk/{order.id}"
    assert response.json() == {
        "success": True,
        "data": {
            "order_id": str(order.id),
            "status": "processing",
            "quantity": 100,
            "assigned_count": 0,
            "pending_count": 100,
            "assigned_numbers": [],
        },
    }
    assert len(callbacks) == 1  # fulfilment enqueued after commit, once
    assert PhoneNumber.objects.filter(organization=alice_org).count() == 0
    assert ledger(alice_org)[-1] == ("hold", 0, 10_000)
    alice_org.refresh_from_db()
    assert (alice_org.balance_cents, alice_org.held_cents) == (10_000, 10_000)


def test_it_completes_a_backorder_from_inventory_then_the_carrier(alice, alice_org, fast_carrier):
    make_numbers(2)
    # No digit criteria: the simulated carrier supplies by type and area code only, and a
    # delivered number that misses any criterion goes to inventory, not to the order.
    response = alice.post(BULK, {"quantity": 5, "area_code": "415", **ROUTING})
    order_id = response.json()["data"]["order_id"]

    assert bulk_order_fulfil(order_id=order_id) is None

    data = alice.get(f"{BULK}/{order_id}").json()["data"]
    assert data["status"] == "complete"
    assert (data["assigned_count"], data["pending_count"], data["failed_count"]) == (5, 0, None)
    assert {"+14155557001", "+14155557002"} <= set(data["assigned_numbers"])
    assert data["label"] == "support-pool"
    assert data["completed_at"] is not None
    numbers = PhoneNumber.objects.filter(organization=alice_org)
    assert numbers.count() == 5
    assert all(n.area_code == "415" and n.label == "support-pool" for n in numbers)
    assert ledger(alice_org)[1:] == [
        ("hold", 0, 500),
        ("charge", -200, -200),  # the two from inventory
        ("charge", -300, -300),  # the three from the carrier
    ]
    assert_ledger_balances(alice_org)
    alice_org.refresh_from_db()
    assert (alice_org.balance_cents, alice_org.held_cents) == (9_500, 0)


def test_it_answers_402_when_credit_is_short(alice, alice_org):
    make_numbers(3)

    response = alice.post(BULK, {"quantity": 101})

    assert response.status_code == 402
    assert response.json()["error"] == {
        "code": "INSUFFICIENT_CREDIT",
        "message": "insufficient credit",
        "request_id": response["X-Request-Id"],
        "details": {"required_cents": 10_100, "available_cents": 10_000},
    }
    assert BulkOrder.objects.count() == 0


def test_it_counts_held_credit_as_unavailable(alice, alice_org):
    alice.post(BULK, {"quantity": 60})  # backordered: holds 6000

    response = alice.post(BULK, {"quantity": 41})

    assert response.status_code == 402
    assert response.json()["error"]["details"] == {
        "required_cents": 4_100,
        "available_cents": 4_000,
    }


def test_it_answers_409_when_the_carrier_cannot_supply(alice, alice_org, settings):
    settings.SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES = ["646"]
    make_numbers(2, area_code="646")

    response = alice.post(BULK, {"quantity": 5, "area_code": "646"})

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "INSUFFICIENT_INVENTORY",
        "message": "insufficient inventory",
        "request_id": response["X-Request-Id"],
        "details": {"available_count": 2},
    }
    assert BulkOrder.objects.count() == 0
    assert PhoneNumber.objects.filter(organization=alice_org).count() == 0
    assert [kind for kind, *_ in ledger(alice_org)] == ["topup"]


def test_it_refuses_a_missing_key(anonymous):
    response = anonymous.post(BULK, {"quantity": 1})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == {
        "code": "UNAUTHORIZED",
        "message": "authentication failed",
        "request_id": response["X-Request-Id"],
    }


def test_it_needs_numbers_write_to_order(alice_org):
    reader = make_api(alice_org, key_scopes=[scopes.NUMBERS_READ])

    response = reader.post(BULK, {"quantity": 1})

    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "FORBIDDEN",
        "message": "missing required scope",
        "request_id": response["X-Request-Id"],
    }


def test_it_needs_numbers_read_to_poll(alice_org):
    writer = make_api(alice_org, key_scopes=[scopes.NUMBERS_WRITE])

    assert writer.get(BULK).status_code == 403
    assert writer.get(f"{BULK}/{uuid.uuid4()}").status_code == 403


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, {"quantity": "must be an integer from 1 to 10000"}),
        ({"quantity": "5"}, {"quantity": "must be an integer from 1 to 10000"}),
        ({"quantity": 5.5}, {"quantity": "must be an integer from 1 to 10000"}),
        ({"quantity": True}, {"quantity": "must be an integer from 1 to 10000"}),
        ({"quantity": None}, {"quantity": "must be an integer from 1 to 10000"}),
        ({"quantity": 0}, {"quantity": "must be an integer from 1 to 10000"}),
        ({"quantity": 10_001}, {"quantity": "must be an integer from 1 to 10000"}),
        ({"quantity": 1, "mode": "fast"}, {"mode": "must be 'atomic' or 'immediate_partial'"}),
        ({"quantity": 1, "mode": 1}, {"mode": "must be 'atomic' or 'immediate_partial'"}),
        (
            {"quantity": 1, "number_type": "mobile"},
            {"number_type": "must be one of: local, toll_free"},
        ),
        ({"quantity": 1, "number_type": 1}, {"number_type": "must be one of: local, toll_free"}),
        ({"quantity": 1, "area_code": 415}, {"area_code": "must be a string of 3 digits"}),
        (
            {"quantity": 1, "area_code": "911"},
            {"area_code": "must be a local area code: 3 digits [2-9]XX, not N11 and not toll-free"},
        ),
        (
            {"quantity": 1, "area_code": "800"},
            {"area_code": "must be a local area code: 3 digits [2-9]XX, not N11 and not toll-free"},
        ),
        (
            {"quantity": 1, "number_type": "toll_free", "area_code": "415"},
            {"area_code": "must be a toll-free prefix: 800, 833, 844, 855, 866, 877, 888"},
        ),
        ({"quantity": 1, "pattern": "12-"}, {"pattern": PATTERN_MESSAGE}),
        ({"quantity": 1, "pattern": "12345678901"}, {"pattern": PATTERN_MESSAGE}),
        ({"quantity": 1, "pattern": "١٢٣"}, {"pattern": PATTERN_MESSAGE}),
        ({"quantity": 1, "pattern": 555}, {"pattern": PATTERN_MESSAGE}),
        (
            {"quantity": 1, "inbound_url": "http://customer.example/in"},
            {"inbound_url": "must be an absolute https:// URL of at most 2048 characters"},
        ),
        (
            {"quantity": 1, "status_url": "https://x.example/" + "a" * 2048},
            {"status_url": "must be an absolute https:// URL of at most 2048 characters"},
        ),
        ({"quantity": 1, "label": "x" * 65}, {"label": "must be at most 64 printable characters"}),
        ({"quantity": 1, "label": "a\nb"}, {"label": "must be at most 64 printable characters"}),
    ],
)
def test_it_validates_the_body(alice, body, details):
    response = alice.post(BULK, body)

    assert response.status_code == 422, response.json()
    assert response.json()["error"]["details"] == details
    assert BulkOrder.objects.count() == 0


def test_it_refuses_unknown_fields(alice):
    response = alice.post(BULK, {"quantity": 1, "numbers": ["+14155550100"]})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"numbers": "unknown field"}


def test_it_uses_the_configured_maximum_quantity(alice, settings):
    settings.BULK_ORDER_MAX_QUANTITY = 50

    response = alice.post(BULK, {"quantity": 51})

    assert response.json()["error"]["details"] == {"quantity": "must be an integer from 1 to 50"}


def test_it_hides_another_organizations_order(alice, bob):
    order_id = alice.post(BULK, {"quantity": 2}).json()["data"]["order_id"]

    response = bob.get(f"{BULK}/{order_id}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert alice.get(f"{BULK}/{order_id}").status_code == 200


def test_it_answers_422_for_a_malformed_id(alice):
    response = alice.get(f"{BULK}/not-a-uuid")

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"id": "must be a UUID"}


def test_it_polls_a_processing_order(alice):
    order_id = alice.post(BULK, {"quantity": 4, "label": "pool"}).json()["data"]["order_id"]

    data = alice.get(f"{BULK}/{order_id}").json()["data"]

    assert {k: v for k, v in data.items() if k not in ("created_at",)} == {
        "order_id": order_id,
        "status": "processing",
        "quantity": 4,
        "assigned_count": 0,
        "pending_count": 4,
        "failed_count": None,
        "assigned_numbers": [],
        "label": "pool",
        "completed_at": None,
        "mode": "atomic",
        "fill_by": None,
        "cancelled_at": None,
    }


def test_it_lists_backorders_newest_first_with_filters(alice, bob, fast_carrier):
    make_numbers(1)
    alice.post(BULK, {"quantity": 1})  # filled at once: not listed
    first = alice.post(BULK, {"quantity": 2, "label": "a"}).json()["data"]["order_id"]
    second = alice.post(BULK, {"quantity": 3, "label": "b"}).json()["data"]["order_id"]
    bob.post(BULK, {"quantity": 2})
    bulk_order_fulfil(order_id=first)

    everything = alice.get(BULK).json()
    assert [o["order_id"] for o in everything["data"]] == [second, first]
    assert everything["meta"] == {"next_cursor": None}
    assert len(everything["data"][1]["assigned_numbers"]) == 2

    by_status = alice.get(BULK, data={"status": "complete"}).json()["data"]
    assert [o["order_id"] for o in by_status] == [first]
    by_label = alice.get(BULK, data={"label": "b"}).json()["data"]
    assert [o["order_id"] for o in by_label] == [second]

    page = alice.get(BULK, data={"limit": 1}).json()
    assert [o["order_id"] for o in page["data"]] == [second]
    rest = alice.get(BULK, data={"limit": 1, "cursor": page["meta"]["next_cursor"]}).json()
    assert [o["order_id"] for o in rest["data"]] == [first]


def test_it_refuses_an_unknown_status_filter(alice):
    response = alice.get(BULK, data={"status": "done"})

    assert response.status_code == 422
    assert list(response.json()["error"]["details"]) == ["status"]


def test_it_answers_405_for_other_methods(alice):
    assert alice.delete(BULK).status_code == 405
    assert alice.post(f"{BULK}/{uuid.uuid4()}", {}).status_code == 405


def test_it_keeps_counts_consistent_for_many_orgs(db):
    # quantity, assigned, pending and failed always add up (model check constraints).
    org = make_org("Counts")
    api = make_api(org)
    api.post(BULK, {"quantity": 7})
    order = BulkOrder.objects.get()
    assert order.assigned_count + order.pending_count + order.failed_count == order.quantity
    assert CreditTransaction.objects.filter(order_id=order.id).count() == 1


def test_it_treats_empty_routing_as_unset(alice, alice_org):
    make_numbers(1)

    response = alice.post(
        BULK, {"quantity": 1, "inbound_url": "", "status_url": None, "label": "", "area_code": None}
    )

    assert response.status_code == 200
    number = PhoneNumber.objects.get(organization=alice_org)
    assert (number.inbound_url, number.status_url, number.label) == (None, None, None)


@pytest.mark.postgres
def test_an_immediate_order_runs_the_same_few_statements_whatever_its_quantity(alice):
    """The hot path's statement count (docs/benchmarks.md): key lookup, organization lock with
    the price read, one claim, and the ledger line with the balance move and the order insert
    as one statement (and the test transaction's savepoint around the order). A claim per
    number, a price read of its own, or a ledger line or order insert in a statement of its
    own, changes it."""
    make_numbers(40)
    alice.post(BULK, {"quantity": 1})  # the key's first use also records last_used_at

    counts = {}
    for quantity in (1, 20):
        with CaptureQueriesContext(connection) as queries:
            response = alice.post(BULK, {"quantity": quantity})
        assert response.status_code == 200
        counts[quantity] = [query["sql"].split()[0] for query in queries.captured_queries]

    assert counts[1] == counts[20]
    assert len([sql for sql in counts[1] if sql not in ("SAVEPOINT", "RELEASE")]) == 4, counts[1]


@pytest.mark.parametrize(
    "outcome",
    [
        {"status": "complete", "assigned_count": 3, "is_backorder": False},
        {"status": "processing", "assigned_count": 1, "is_backorder": True},
        {"status": "partial", "assigned_count": 1, "failed_count": 2, "is_backorder": False},
    ],
)
def test_the_placement_answer_renders_as_drfs_fields_render_it(outcome):
    """BulkOrderPlacementSerializer renders without its field objects (speed): its answer, keys
    in order, must stay the one its declared fields give (failed_count only on partial)."""
    order = BulkOrder(quantity=3, **outcome)
    order.assigned_numbers = ["+14155550100", "+14155550101", "+14155550102"][
        : outcome["assigned_count"]
    ]

    generic = serializers.Serializer.to_representation(BulkOrderPlacementSerializer(), order)
    if outcome["status"] != "partial":
        del generic["failed_count"]

    rendered = BulkOrderPlacementSerializer(order).data
    assert list(rendered.items()) == list(generic.items())
