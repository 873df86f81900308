"""Control over a bulk order: mode=immediate_partial, fill_by, cancel and quote (API.md §2)."""

import time
import uuid
from datetime import UTC, timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import scopes
from orders import selectors, services
from orders.models import BulkOrder
from orders.signals import bulk_order_finished
from phone_numbers.allocation import Criteria
from phone_numbers.models import PhoneNumber
from tests.support.factories import assert_ledger_balances, ledger, make_api, make_numbers, make_org
from tests.support.staff import staff_login

BULK = "/v1/phone-numbers/bulk"
QUOTE = "/v1/phone-numbers/bulk/quote"
PARTIAL = {"mode": "immediate_partial", "area_code": "415"}


@pytest.fixture
def no_carrier_415(settings):
    settings.SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES = ["415"]
    return settings


@pytest.fixture
def finished():
    """The orders announced as ended (orders.signals.bulk_order_finished), in order."""
    ended = []

    def record(sender, order, **kwargs):
        ended.append((order.id, order.status))

    bulk_order_finished.connect(record, dispatch_uid="test-finished")
    yield ended
    bulk_order_finished.disconnect(dispatch_uid="test-finished")


def cancel(api, order_id, body=None):
    return api.post(f"{BULK}/{order_id}/cancel", body)


def in_minutes(minutes: float) -> str:
    return (timezone.now() + timedelta(minutes=minutes)).isoformat()


# --- mode=immediate_partial: the four outcomes ------------------------------------------------


def test_immediate_partial_with_enough_inventory_answers_200_as_atomic(alice, alice_org):
    make_numbers(3)

    response = alice.post(BULK, {"quantity": 3, **PARTIAL})

    assert response.status_code == 200
    assert response.json()["data"] == {
        "order_id": None,
        "status": "complete",
        "quantity": 3,
        "assigned_count": 3,
        "pending_count": 0,
        "assigned_numbers": ["+14155557001", "+14155557002", "+14155557003"],
    }
    order = BulkOrder.objects.get()
    assert (order.mode, order.is_backorder, order.ended_by) == ("immediate_partial", False, "")
    assert ledger(alice_org)[1:] == [("charge", -300, 0)]


def test_immediate_partial_assigns_what_inventory_holds_and_backorders_the_rest(
    alice, alice_org, fast_carrier
):
    make_numbers(2)

    response = alice.post(BULK, {"quantity": 5, **PARTIAL})

    assert response.status_code == 202
    data = response.json()["data"]
    assert response["Location"] == f"{BULK}/{data['order_id']}"
    assert data == {
        "order_id": data["order_id"],
        "status": "processing",
        "quantity": 5,
        "assigned_count": 2,
        "pending_count": 3,
        "assigned_numbers": ["+14155557001", "+14155557002"],
    }
    assert PhoneNumber.objects.filter(organization=alice_org, state="assigned").count() == 2
    # Charged for the two it has, the rest held.
    assert ledger(alice_org)[1:] == [("charge", -200, 0), ("hold", 0, 300)]
    polled = alice.get(f"{BULK}/{data['order_id']}").json()["data"]
    assert (polled["mode"], polled["assigned_count"], polled["pending_count"]) == (
        "immediate_partial",
        2,
        3,
    )

    services.bulk_order_fulfil(order_id=data["order_id"])

    order = BulkOrder.objects.get()
    assert (order.status, order.assigned_count, order.ended_by) == ("complete", 5, "carrier")
    assert ledger(alice_org)[1:] == [("charge", -200, 0), ("hold", 0, 300), ("charge", -300, -300)]
    assert_ledger_balances(alice_org)


def test_immediate_partial_releases_the_hold_of_what_the_carrier_then_fails(
    alice, alice_org, fast_carrier
):
    fast_carrier.SIMULATED_CARRIER_FAILURE_RATE = 1
    make_numbers(2)
    order_id = alice.post(BULK, {"quantity": 5, **PARTIAL}).json()["data"]["order_id"]

    services.bulk_order_fulfil(order_id=order_id)

    data = alice.get(f"{BULK}/{order_id}").json()["data"]
    assert (data["status"], data["assigned_count"], data["failed_count"]) == ("partial", 2, 3)
    assert ledger(alice_org)[1:] == [("charge", -200, 0), ("hold", 0, 300), ("release", 0, -300)]
    alice_org.refresh_from_db()
    assert (alice_org.balance_cents, alice_org.held_cents) == (9_800, 0)


def test_immediate_partial_without_carrier_supply_ends_partial_at_once(
    alice, alice_org, no_carrier_415, finished
):
    make_numbers(2)

    response = alice.post(BULK, {"quantity": 5, **PARTIAL})

    assert response.status_code == 200
    data = response.json()["data"]
    assert data == {
        "order_id": data["order_id"],
        "status": "partial",
        "quantity": 5,
        "assigned_count": 2,
        "pending_count": 0,
        "failed_count": 3,
        "assigned_numbers": ["+14155557001", "+14155557002"],
    }
    # Charged for the two, nothing held; the answer is the whole story (no completion event).
    assert ledger(alice_org)[1:] == [("charge", -200, 0)]
    assert finished == []
    polled = alice.get(f"{BULK}/{data['order_id']}").json()["data"]
    assert (polled["status"], polled["failed_count"], polled["assigned_numbers"]) == (
        "partial",
        3,
        ["+14155557001", "+14155557002"],
    )
    assert [o["order_id"] for o in alice.get(BULK).json()["data"]] == [data["order_id"]]


def test_immediate_partial_with_nothing_anywhere_is_409_and_records_nothing(
    alice, alice_org, no_carrier_415
):
    make_numbers(2, area_code="212")

    response = alice.post(BULK, {"quantity": 5, **PARTIAL})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "INSUFFICIENT_INVENTORY"
    assert response.json()["error"]["details"] == {"available_count": 0}
    assert BulkOrder.objects.count() == 0
    assert ledger(alice_org)[1:] == []


def test_immediate_partial_with_empty_inventory_is_a_plain_backorder(alice, alice_org):
    response = alice.post(BULK, {"quantity": 4, **PARTIAL})

    assert response.status_code == 202
    assert response.json()["data"]["assigned_count"] == 0
    assert ledger(alice_org)[1:] == [("hold", 0, 400)]


def test_the_credit_check_of_immediate_partial_covers_the_whole_quantity(alice_org):
    org = make_org("Thin", credit_cents=300)
    make_numbers(2)

    response = make_api(org).post(BULK, {"quantity": 5, **PARTIAL})

    assert response.status_code == 402
    assert response.json()["error"]["details"] == {"required_cents": 500, "available_cents": 300}
    assert PhoneNumber.objects.filter(state="available").count() == 2
    assert BulkOrder.objects.count() == 0


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_ends_a_processing_order_keeping_what_it_assigned(alice, alice_org, finished):
    make_numbers(1)
    order_id = alice.post(BULK, {"quantity": 4, **PARTIAL}).json()["data"]["order_id"]

    response = cancel(alice, order_id)

    assert response.status_code == 200
    data = response.json()["data"]
    assert data == alice.get(f"{BULK}/{order_id}").json()["data"]
    assert (data["status"], data["assigned_count"], data["pending_count"]) == ("partial", 1, 0)
    assert (data["failed_count"], data["assigned_numbers"]) == (3, ["+14155557001"])
    assert data["cancelled_at"] is not None and data["completed_at"] == data["cancelled_at"]
    order = BulkOrder.objects.get()
    assert (order.ended_by, order.close_reason) == ("client", "cancelled by the client")
    assert ledger(alice_org)[1:] == [("charge", -100, 0), ("hold", 0, 300), ("release", 0, -300)]
    assert_ledger_balances(alice_org)
    assert finished == [(order.id, "partial")]


def test_cancel_of_an_order_with_nothing_assigned_ends_it_failed(alice, alice_org):
    order_id = alice.post(BULK, {"quantity": 2}).json()["data"]["order_id"]

    data = cancel(alice, order_id, {}).json()["data"]

    assert (data["status"], data["failed_count"]) == ("failed", 2)
    alice_org.refresh_from_db()
    assert (alice_org.balance_cents, alice_org.held_cents) == (10_000, 0)


def test_cancel_twice_is_409_with_the_terminal_status_and_changes_nothing(alice, alice_org):
    order_id = alice.post(BULK, {"quantity": 2}).json()["data"]["order_id"]
    cancel(alice, order_id)
    before = (ledger(alice_org), BulkOrder.objects.values().get())

    response = cancel(alice, order_id)

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "ORDER_NOT_PROCESSING",
        "message": "the order is not processing",
        "request_id": response["X-Request-Id"],
        "details": {"status": "failed"},
    }
    assert (ledger(alice_org), BulkOrder.objects.values().get()) == before


def test_cancel_of_an_order_filled_at_once_is_409_complete(alice):
    make_numbers(1)
    alice.post(BULK, {"quantity": 1})

    response = cancel(alice, BulkOrder.objects.get().id)

    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"status": "complete"}


def test_cancel_hides_other_organizations_and_checks_the_id(alice, bob):
    order_id = alice.post(BULK, {"quantity": 2}).json()["data"]["order_id"]

    assert cancel(bob, order_id).status_code == 404
    assert cancel(alice, uuid.uuid4()).status_code == 404
    malformed = cancel(alice, "not-a-uuid")
    assert malformed.status_code == 422
    assert malformed.json()["error"]["details"] == {"id": "must be a UUID"}
    assert BulkOrder.objects.get().status == "processing"


def test_cancel_takes_no_fields_and_needs_numbers_write(alice, alice_org):
    order_id = alice.post(BULK, {"quantity": 2}).json()["data"]["order_id"]
    reader = make_api(alice_org, key_scopes=[scopes.NUMBERS_READ])

    unknown = cancel(alice, order_id, {"reason": "changed my mind"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["details"] == {"reason": "unknown field"}
    assert cancel(reader, order_id).status_code == 403
    assert alice.get(f"{BULK}/{order_id}/cancel").status_code == 405
    assert BulkOrder.objects.get().status == "processing"


def test_a_delivery_after_the_cancel_goes_to_inventory_not_to_the_order(alice, alice_org, settings):
    settings.SIMULATED_CARRIER_DELAY_SECONDS = 0.5
    make_numbers(1)
    order_id = alice.post(BULK, {"quantity": 4, **PARTIAL}).json()["data"]["order_id"]
    assert services.bulk_order_fulfil(order_id=order_id) > 0  # the carrier order is placed
    assert cancel(alice, order_id).status_code == 200
    ledger_after_cancel = ledger(alice_org)

    time.sleep(0.6)
    assert services.bulk_order_fulfil(order_id=order_id) is None
    assert services.bulk_order_fulfil(order_id=order_id) is None  # a second run adds nothing

    delivered = PhoneNumber.objects.exclude(number="+14155557001")
    assert delivered.count() == 3
    assert set(delivered.values_list("state", "organization_id", "order_id", "area_code")) == {
        ("available", None, None, "415")
    }
    order = BulkOrder.objects.get()
    assert (order.status, order.assigned_count, order.failed_count) == ("partial", 1, 3)
    assert ledger(alice_org) == ledger_after_cancel
    assert_ledger_balances(alice_org)


# --- fill_by -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fill_by", "message"),
    [
        ("2099-01-01T00:00:00", "must be an RFC 3339 timestamp with a time zone"),
        ("2099-01-01", "must be an RFC 3339 timestamp with a time zone"),
        ("2099-13-01T00:00:00Z", "must be an RFC 3339 timestamp with a time zone"),
        ("tomorrow", "must be an RFC 3339 timestamp with a time zone"),
        (1_900_000_000, "must be an RFC 3339 timestamp with a time zone"),
        ("", "must be an RFC 3339 timestamp with a time zone"),
        ("2000-01-01T00:00:00Z", "must be from 5 minutes to 30 days ahead"),
        (None, None),
    ],
)
def test_fill_by_must_be_an_rfc3339_timestamp_with_a_zone(alice, fill_by, message):
    response = alice.post(BULK, {"quantity": 2, "fill_by": fill_by})

    if message is None:
        assert response.status_code == 202
    else:
        assert response.status_code == 422
        assert response.json()["error"]["details"] == {"fill_by": message}


@pytest.mark.parametrize(
    ("minutes", "accepted"), [(4, False), (6, True), (30 * 24 * 60 + 5, False)]
)
def test_fill_by_is_5_minutes_to_30_days_ahead(alice, minutes, accepted):
    response = alice.post(BULK, {"quantity": 2, "fill_by": in_minutes(minutes)})

    assert response.status_code == (202 if accepted else 422)


def test_fill_by_with_an_offset_is_stored_and_answered_in_utc(alice):
    moment = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    local = moment.astimezone(timezone.get_fixed_timezone(120)).isoformat()

    order_id = alice.post(BULK, {"quantity": 2, "fill_by": local}).json()["data"]["order_id"]

    assert BulkOrder.objects.get().fill_by == moment
    data = alice.get(f"{BULK}/{order_id}").json()["data"]
    assert data["fill_by"] == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (data["mode"], data["cancelled_at"]) == ("atomic", None)


def test_the_sweeper_ends_an_order_whose_fill_by_passed_as_a_cancel_does(
    alice, alice_org, finished, settings
):
    make_numbers(1)
    body = {"quantity": 3, **PARTIAL, "fill_by": in_minutes(10)}
    order_id = alice.post(BULK, body).json()["data"]["order_id"]
    untouched = alice.post(BULK, {"quantity": 1, "fill_by": in_minutes(60)}).json()["data"]

    assert services.bulk_orders_end_overdue() == []  # not yet
    ended = services.bulk_orders_end_overdue(now=timezone.now() + timedelta(minutes=11))

    assert ended == [order_id]
    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.assigned_count, order.failed_count) == ("partial", 1, 2)
    assert (order.ended_by, order.close_reason) == ("deadline", "fill_by deadline passed")
    assert order.cancelled_at is not None
    assert ledger(alice_org)[1:4] == [("charge", -100, 0), ("hold", 0, 200), ("hold", 0, 100)]
    assert ("release", 0, -200) in ledger(alice_org)
    assert finished == [(order.id, "partial")]
    assert BulkOrder.objects.get(pk=untouched["order_id"]).status == "processing"
    beat = settings.CELERY_BEAT_SCHEDULE["end-overdue-bulk-orders"]
    assert beat == {
        "task": "orders.tasks.end_overdue_bulk_orders",
        "schedule": settings.BULK_ORDER_SWEEP_SECONDS,
    }


def test_fulfilment_ends_an_order_past_its_fill_by_instead_of_filling_it(alice, alice_org):
    order_id = alice.post(BULK, {"quantity": 2, "fill_by": in_minutes(10)}).json()["data"][
        "order_id"
    ]
    make_numbers(2)  # inventory that fulfilment would otherwise take
    # The deadline passes (the sweeper has not run yet).
    BulkOrder.objects.filter(pk=order_id).update(fill_by=timezone.now() - timedelta(seconds=1))

    assert services.bulk_order_fulfil(order_id=order_id) is None

    order = BulkOrder.objects.get()
    assert (order.status, order.assigned_count, order.ended_by) == ("failed", 0, "deadline")
    assert PhoneNumber.objects.filter(state="available").count() == 2
    alice_org.refresh_from_db()
    assert alice_org.held_cents == 0


# --- quote -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "in_inventory", "carrier", "outcome", "available_now"),
    [
        ({"quantity": 3}, 5, True, "immediate", 3),
        ({"quantity": 3, **PARTIAL}, 3, False, "immediate", 3),
        ({"quantity": 3}, 2, True, "backorder", 2),
        ({"quantity": 3}, 2, False, "insufficient_inventory", 2),
        ({"quantity": 3, **PARTIAL}, 2, True, "partial_backorder", 2),
        ({"quantity": 3, **PARTIAL}, 2, False, "partial", 2),
        ({"quantity": 3, **PARTIAL}, 0, True, "backorder", 0),
        ({"quantity": 3, **PARTIAL}, 0, False, "insufficient_inventory", 0),
        ({"quantity": 101}, 5, True, "insufficient_credit", 5),
    ],
)
def test_quote_says_what_the_order_would_do(
    alice, settings, body, in_inventory, carrier, outcome, available_now
):
    settings.SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES = [] if carrier else ["415"]
    make_numbers(in_inventory)

    response = alice.post(QUOTE, {"area_code": "415", **body})

    assert response.status_code == 200, response.json()
    assert response.json()["data"] == {
        "quantity": body["quantity"],
        "unit_price_cents": 100,
        "cost_cents": 100 * body["quantity"],
        "available_cents": 10_000,
        "available_now": available_now,
        "outcome": outcome,
    }


def row_counts() -> dict:
    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
        return counts


def test_quote_creates_holds_and_writes_nothing(alice, alice_org):
    make_numbers(2)
    alice.get("/v1/billing/wallet")  # the key's last_used_at is stamped once a minute
    before = row_counts()
    wallet = (alice_org.balance_cents, alice_org.held_cents)

    for body in ({"quantity": 5, **PARTIAL}, {"quantity": 2}, {"quantity": 7}):
        response = alice.post(QUOTE, body, HTTP_IDEMPOTENCY_KEY=f"quote-{body['quantity']}")
        assert response.status_code == 200

    assert row_counts() == before
    assert len(before) >= len(apps.get_models())  # every table was counted
    alice_org.refresh_from_db()
    assert (alice_org.balance_cents, alice_org.held_cents) == wallet
    assert PhoneNumber.objects.filter(state="available").count() == 2


def test_quote_validates_like_the_order(alice):
    assert alice.post(QUOTE, {"quantity": 0}).json()["error"]["details"] == {
        "quantity": "must be an integer from 1 to 10000"
    }
    assert alice.post(QUOTE, {"quantity": 1, "mode": "fast"}).status_code == 422
    assert alice.post(QUOTE, {"quantity": 1, "fill_by": "soon"}).status_code == 422
    unknown = alice.post(QUOTE, {"quantity": 1, "price": 0})
    assert (unknown.status_code, unknown.json()["error"]["details"]) == (
        400,
        {"price": "unknown field"},
    )
    assert alice.get(QUOTE).status_code == 405


@pytest.mark.parametrize("quantity", [1, 10_000])
def test_a_quote_is_two_queries_whatever_the_quantity(alice_org, quantity):
    make_numbers(3)

    with CaptureQueriesContext(connection) as queries:
        quote = selectors.bulk_order_quote(
            organization=alice_org,
            criteria=Criteria(number_type="local", area_code="415"),
            quantity=quantity,
            mode="immediate_partial",
        )

    assert len(queries) == 2
    assert quote.available_now == min(3, quantity)


# --- 10,000 in one order -----------------------------------------------------------------------


def _claims(queries) -> list[str]:
    table = PhoneNumber._meta.db_table
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith("WITH") and table in q["sql"]
    ]


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["atomic", "immediate_partial"])
def test_a_10000_number_order_is_one_claim_and_as_many_queries_as_one(db, mode):
    small, big = make_org("Small"), make_org("Big", credit_cents=1_000_000)
    make_numbers(1, area_code="212")
    make_numbers(10_000, start=0)
    counts = {}
    for org, quantity, area_code in ((small, 1, "212"), (big, 10_000, "415")):
        api = make_api(org)
        api.get("/v1/billing/wallet")  # the key's first-use stamp, outside the count
        body = {"quantity": quantity, "area_code": area_code, "mode": mode}
        with CaptureQueriesContext(connection) as queries:
            response = api.post(BULK, body)
        assert response.status_code == 200
        assert len(response.json()["data"]["assigned_numbers"]) == quantity
        assert len(_claims(queries)) == 1
        counts[quantity] = len(queries)

    assert counts[10_000] == counts[1]
    assert PhoneNumber.objects.filter(organization=big).count() == 10_000


@pytest.mark.postgres
def test_the_admin_page_of_a_10000_number_order_stays_small(db, client, django_user_model):
    api = make_api(make_org("Big", credit_cents=2_000_000))
    make_numbers(10_000, start=0)
    make_numbers(2, area_code="212")
    big = api.post(BULK, {"quantity": 10_000, "area_code": "415"})
    small = api.post(BULK, {"quantity": 2, "area_code": "212"})
    assert (big.status_code, small.status_code) == (200, 200)
    staff = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw")
    staff_login(client, staff)
    orders = list(BulkOrder.objects.all())
    client.get(f"/admin/orders/bulkorder/{orders[0].id}/change/")  # session, caches: not counted
    pages = {}
    for order in orders:
        with CaptureQueriesContext(connection) as queries:
            page = client.get(f"/admin/orders/bulkorder/{order.id}/change/")
        assert page.status_code == 200
        pages[order.quantity] = (len(queries), page.content.decode())

    queries_big, html = pages[10_000]
    assert queries_big == pages[2][0]
    assert html.count("/admin/phone_numbers/phonenumber/") <= 102  # 100 shown, and the link
    assert "All 10000 numbers" in html


def test_the_admin_lists_mode_deadline_and_who_ended_an_order(alice, client, django_user_model):
    order_id = alice.post(BULK, {"quantity": 2, **PARTIAL, "fill_by": in_minutes(60)}).json()[
        "data"
    ]["order_id"]
    cancel(alice, order_id)
    staff = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw")
    staff_login(client, staff)

    listing = client.get("/admin/orders/bulkorder/", {"ended_by__exact": "client"})
    detail = client.get(f"/admin/orders/bulkorder/{order_id}/change/").content.decode()

    assert order_id in listing.content.decode()
    assert "the client cancelled it" in listing.content.decode()
    for label in ("Mode", "Fill by", "Cancelled at", "Ended by", "Immediate Partial"):
        assert label.lower() in detail.lower()
