"""POST /v1/phone-numbers/bulk/release, the quarantine and its end (API.md §2), and the
history the release and allocation code writes."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import scopes
from accounts.models import CreditTransaction
from phone_numbers import selectors
from phone_numbers.models import PhoneNumber, PhoneNumberEvent
from phone_numbers.services import release as services
from phone_numbers.tasks import end_quarantines
from tests.support.factories import add_numbers, give, make_api, number

BULK_RELEASE = "/v1/phone-numbers/bulk/release"
ORDERS = "/v1/phone-numbers/orders"


def test_bulk_release_puts_every_id_in_exactly_one_bucket(alice, bob, alice_org, bob_org):
    mine = give(alice_org, "+14155550100", "+14155550101")
    released_before = give(alice_org, "+14155550102")["+14155550102"]
    theirs = give(bob_org, "+14155550200")["+14155550200"]
    alice.delete(f"/v1/phone-numbers/{released_before}")
    # Released by Alice earlier, since bought by Bob: for Alice it is still one she released.
    resold = give(alice_org, "+14155550103")["+14155550103"]
    alice.delete(f"/v1/phone-numbers/{resold}")
    PhoneNumber.objects.filter(pk=resold).update(state="available", quarantine_ends_at=None)
    give(bob_org, "+14155550103")
    unknown = str(uuid.uuid4())
    owned_a, owned_b = mine["+14155550100"], mine["+14155550101"]
    ids = [
        owned_a,
        theirs,
        unknown,
        released_before,
        owned_a.upper(),  # the same id in capitals is a duplicate
        owned_b,
        unknown,
        resold,
    ]

    response = alice.post(BULK_RELEASE, {"ids": ids})

    assert response.status_code == 200, response.json()
    assert response.json()["data"] == {
        "released": [owned_a, owned_b],
        "unknown": [theirs, unknown],
        "already_released": [released_before, resold],
    }
    assert number(owned_a).state == number(owned_b).state == PhoneNumber.State.QUARANTINED
    assert number(theirs).organization_id == bob_org.id  # Bob's number untouched
    assert number(resold).organization_id == bob_org.id
    # Running it again releases nothing more: the first run's numbers are already released.
    again = alice.post(BULK_RELEASE, {"ids": [owned_a, owned_b]}).json()["data"]
    assert again == {"released": [], "unknown": [], "already_released": [owned_a, owned_b]}


def test_bulk_release_clears_routing_and_refunds_nothing(alice, alice_org):
    ids = give(alice_org, "+14155550100", "+14155550101", label="x", inbound_url="https://a.b/c")
    ledger_before = list(CreditTransaction.objects.filter(organization=alice_org))

    alice.post(BULK_RELEASE, {"ids": list(ids.values())})

    for number_id in ids.values():
        row = number(number_id)
        assert (row.organization_id, row.inbound_url, row.label) == (None, None, None)
        assert row.quarantine_ends_at > timezone.now() + timedelta(days=29)
    assert list(CreditTransaction.objects.filter(organization=alice_org)) == ledger_before
    alice_org.refresh_from_db()
    assert alice_org.balance_cents == 10_000


OWNED = "owned"  # replaced by the id of a number Alice owns
UUID_MESSAGE = "must be a phone-number id (a UUID)"
LIST_MESSAGE = "must be a list of 1 to 100 phone-number ids"


@pytest.mark.parametrize(
    ("ids", "key", "message"),
    [
        ([OWNED, "nope"], "ids.1", UUID_MESSAGE),
        ([OWNED, str(uuid.uuid4()), "1234"], "ids.2", UUID_MESSAGE),
        ([OWNED, str(uuid.uuid4()).replace("-", "")], "ids.1", UUID_MESSAGE),
        ([OWNED, "{" + str(uuid.uuid4()) + "}"], "ids.1", UUID_MESSAGE),
        ([OWNED, None], "ids.1", UUID_MESSAGE),
        ([OWNED, 5], "ids.1", UUID_MESSAGE),
        ([], "ids", LIST_MESSAGE),
        ([OWNED] * 101, "ids", LIST_MESSAGE),
        ("abc", "ids", LIST_MESSAGE),
        (None, "ids", LIST_MESSAGE),
    ],
)
def test_bulk_release_validates_the_ids_and_releases_nothing_on_bad_input(
    alice, alice_org, ids, key, message
):
    owned = give(alice_org, "+14155550100")["+14155550100"]
    if isinstance(ids, list):
        ids = [owned if item == OWNED else item for item in ids]

    response = alice.post(BULK_RELEASE, {"ids": ids})

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {key: message}
    assert number(owned).state == PhoneNumber.State.ASSIGNED


def test_bulk_release_needs_ids(alice):
    response = alice.post(BULK_RELEASE, {})

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"ids": LIST_MESSAGE}


def test_bulk_release_refuses_unknown_fields_and_needs_numbers_write(alice, alice_org):
    owned = give(alice_org, "+14155550100")["+14155550100"]

    unknown_field = alice.post(BULK_RELEASE, {"ids": [owned], "return_to_carrier": True})
    reader = make_api(alice_org, [scopes.NUMBERS_READ]).post(BULK_RELEASE, {"ids": [owned]})

    assert unknown_field.status_code == 400
    assert unknown_field.json()["error"]["details"] == {"return_to_carrier": "unknown field"}
    assert reader.status_code == 403
    assert number(owned).state == PhoneNumber.State.ASSIGNED


def test_bulk_release_of_1_or_100_ids_costs_the_same_queries(alice_org, db):
    first = give(alice_org, "+14155550000")
    hundred = give(alice_org, *[f"+1415555{n:04d}" for n in range(1, 101)])
    earlier = list(hundred.values())[:10]  # some already released, some unknown: every branch
    services.numbers_release(organization_id=alice_org.id, number_ids=earlier)

    def queries(ids):
        with CaptureQueriesContext(connection) as captured:
            services.numbers_release(organization_id=alice_org.id, number_ids=ids)
        return len(captured)

    one_query_count = queries([*first.values(), uuid.uuid4()])
    many = [*hundred.values()][:99] + [uuid.uuid4()]
    assert queries(many) == one_query_count
    assert PhoneNumber.objects.filter(organization=alice_org).count() == 1


# --- quarantine and its end -------------------------------------------------------------------


@pytest.fixture
def later(monkeypatch):
    """Move the clock: later(days=31) makes timezone.now() that much in the future."""

    def move(**delta):
        moved = timezone.now() + timedelta(**delta)
        monkeypatch.setattr(timezone, "now", lambda: moved)
        return moved

    return move


def test_a_released_number_is_not_sold_again_before_its_quarantine_ends_and_is_after(
    alice, bob, alice_org, later
):
    add_numbers("+12125550100")
    bought = alice.post(ORDERS, {"numbers": ["+12125550100"]}).json()["data"][0]
    assert alice.delete(f"/v1/phone-numbers/{bought['id']}").status_code == 200

    # Before the quarantine ends: neither an explicit order nor a bulk order gets it, and
    # searching does not show it.
    refused = bob.post(ORDERS, {"numbers": ["+12125550100"]})
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["unavailable_numbers"] == ["+12125550100"]
    backordered = bob.post("/v1/phone-numbers/bulk", {"quantity": 1, "area_code": "212"})
    assert backordered.status_code == 202
    assert backordered.json()["data"]["assigned_numbers"] == []
    assert bob.post("/v1/phone-numbers/search", {"area_code": "212"}).json()["data"] == []
    assert end_quarantines() == 0  # the sweeper runs, but the quarantine has not ended
    later(days=29, hours=23)
    assert end_quarantines() == 0
    assert number(bought["id"]).state == PhoneNumber.State.QUARANTINED

    # After: the periodic task puts it back and it sells again.
    later(days=30, seconds=1)
    assert end_quarantines() == 1
    assert number(bought["id"]).state == PhoneNumber.State.AVAILABLE
    filled = bob.post("/v1/phone-numbers/bulk", {"quantity": 1, "area_code": "212"})
    assert filled.status_code == 200, filled.json()
    assert filled.json()["data"]["assigned_numbers"] == ["+12125550100"]
    # Same resource id, new owner; Alice's old id is still 404 for her.
    assert bob.get(f"/v1/phone-numbers/{bought['id']}").status_code == 200
    assert alice.get(f"/v1/phone-numbers/{bought['id']}").status_code == 404

    history = selectors.number_history(number(bought["id"]))
    kinds = [
        (entry.kind, entry.organization.name if entry.organization else None) for entry in history
    ]
    assert kinds == [
        ("assigned", "Alice Telecom"),
        ("released", "Alice Telecom"),
        ("quarantine_ended", None),
        ("assigned", "Bob Networks"),
    ]


def test_the_sweeper_works_in_batches_and_leaves_other_numbers_alone(alice_org, db):
    ids = give(alice_org, *[f"+1415555{n:04d}" for n in range(7)])
    services.numbers_release(organization_id=alice_org.id, number_ids=list(ids.values()))
    ended = list(ids.values())[:5]
    PhoneNumber.objects.filter(pk__in=ended).update(
        quarantine_ends_at=timezone.now() - timedelta(seconds=1)
    )
    returned = give(alice_org, "+14155550900")["+14155550900"]
    services.numbers_release(
        organization_id=alice_org.id, number_ids=[returned], return_to_carrier=True
    )

    assert services.quarantines_end(batch_size=2) == 5  # batches of 2, 2, 1

    states = dict(PhoneNumber.objects.values_list("pk", "state"))
    assert {states[uuid.UUID(i)] for i in ended} == {"available"}
    assert {states[uuid.UUID(i)] for i in list(ids.values())[5:]} == {"quarantined"}
    assert states[uuid.UUID(returned)] == "returned"
    assert PhoneNumberEvent.objects.filter(kind="quarantine_ended").count() == 5
    assert services.quarantines_end(batch_size=2) == 0  # idempotent


def test_the_history_shows_each_assignment_with_its_order(alice, alice_org):
    add_numbers("+13125550100", "+13125550101", "+14155550100")

    bulk = alice.post("/v1/phone-numbers/bulk", {"quantity": 2, "area_code": "312"})
    explicit = alice.post(ORDERS, {"numbers": ["+14155550100"]})
    released = PhoneNumber.objects.get(number="+13125550101")
    assigned_at = released.assigned_at
    services.numbers_release(organization_id=alice_org.id, number_ids=[released.pk])

    assert bulk.status_code == explicit.status_code == 200
    assert not PhoneNumberEvent.objects.filter(kind="assigned").exists()  # claims write none
    by_number = {
        n.number: selectors.number_history(n)
        for n in PhoneNumber.objects.filter(
            number__in=["+13125550100", "+13125550101", "+14155550100"]
        )
    }
    current, ended, explicit_one = (
        by_number["+13125550100"],
        by_number["+13125550101"],
        by_number["+14155550100"],
    )
    assert [e.kind for e in current] == ["assigned"]
    assert [e.kind for e in ended] == ["assigned", "released"]
    assert current[0].order_id is not None and current[0].order_id == ended[0].order_id
    assert ended[0].at == assigned_at and ended[0].organization_id == alice_org.id
    assert explicit_one[0].order_id is None


@pytest.mark.postgres
def test_each_sweeper_batch_is_bounded_even_with_stale_planner_statistics(alice_org):
    ids = give(alice_org, *[f"+1415555{n:04d}" for n in range(3000)])
    with connection.cursor() as cursor:
        # Statistics say nothing is quarantined: the plan that made `id IN (SELECT ... LIMIT)`
        # re-run its subquery per row (and ignore the batch size).
        cursor.execute(f"ANALYZE {PhoneNumber._meta.db_table}")
    PhoneNumber.objects.filter(pk__in=list(ids.values())).update(
        state="quarantined",
        organization=None,
        assigned_at=None,
        quarantine_ends_at=timezone.now() - timedelta(minutes=1),
    )

    with CaptureQueriesContext(connection) as captured:
        assert services.quarantines_end(batch_size=1000) == 3000

    updates = [q for q in captured if q["sql"].startswith("UPDATE")]
    assert len(updates) == 4  # 1000, 1000, 1000, then an empty batch
