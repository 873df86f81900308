import pytest
from django.db import connection

from accounts import scopes
from accounts.models import CreditTransaction
from phone_numbers.models import NumberPrice, PhoneNumber
from tests.support.factories import add_numbers, make_api, make_org, owner_of

ORDERS = "/v1/phone-numbers/orders"
LOCAL_A, LOCAL_B, TOLL_FREE = "+14155550001", "+14155550002", "+18005550001"


def test_it_assigns_the_numbers_and_returns_the_resources(alice, alice_org, inventory):
    response = alice.post(
        ORDERS,
        {
            "numbers": [LOCAL_B, TOLL_FREE, LOCAL_A],
            "inbound_url": "https://example.com/in",
            "label": "support",
        },
    )

    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert [item["number"] for item in data] == [LOCAL_A, LOCAL_B, TOLL_FREE]
    first = data[0]
    assert set(first) == {
        "id",
        "number",
        "number_type",
        "area_code",
        "inbound_url",
        "status_url",
        "label",
        "sms_enabled",
        "mms_enabled",
        "voice_enabled",
        "created_at",
        "updated_at",
    }
    assert first["number_type"] == "local"
    assert first["area_code"] == "415"
    assert first["inbound_url"] == "https://example.com/in"
    assert first["status_url"] is None
    assert first["label"] == "support"
    assert first["sms_enabled"] is True
    number = PhoneNumber.objects.get(number=LOCAL_A)
    assert first["id"] == str(number.id)
    assert first["created_at"] == number.assigned_at.isoformat().replace("+00:00", "Z")
    assert data[2]["number_type"] == "toll_free"
    assert {owner_of(n) for n in (LOCAL_A, LOCAL_B, TOLL_FREE)} == {alice_org.id}
    alice_org.refresh_from_db()
    assert alice_org.balance_cents == 10_000 - 100 - 100 - 200
    charge = CreditTransaction.objects.get(organization=alice_org, kind="charge")
    assert charge.amount_cents == -400
    assert LOCAL_A in charge.note and TOLL_FREE in charge.note


def test_it_charges_the_current_price(alice, alice_org, inventory):
    NumberPrice.objects.filter(number_type="local").update(price_cents=250)

    alice.post(ORDERS, {"numbers": [LOCAL_A]})

    alice_org.refresh_from_db()
    assert alice_org.balance_cents == 10_000 - 250


def test_it_stores_empty_routing_as_null(alice, inventory):
    response = alice.post(
        ORDERS, {"numbers": [LOCAL_A], "inbound_url": "", "status_url": None, "label": ""}
    )

    item = response.json()["data"][0]
    assert (item["inbound_url"], item["status_url"], item["label"]) == (None, None, None)
    assert PhoneNumber.objects.get(number=LOCAL_A).label is None


def test_it_refuses_with_409_and_assigns_nothing_when_one_is_taken(
    alice, bob, alice_org, inventory
):
    bob.post(ORDERS, {"numbers": [LOCAL_B]})

    response = alice.post(ORDERS, {"numbers": [LOCAL_A, LOCAL_B, "+14155559999"]})

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "INSUFFICIENT_INVENTORY"
    assert error["details"] == {
        "available_count": 1,
        "unavailable_numbers": [LOCAL_B, "+14155559999"],
    }
    assert owner_of(LOCAL_A) is None
    alice_org.refresh_from_db()
    assert alice_org.balance_cents == 10_000
    assert not CreditTransaction.objects.filter(organization=alice_org, kind="charge").exists()


def test_it_refuses_quarantined_and_returned_numbers(alice, inventory):
    PhoneNumber.objects.filter(number=LOCAL_A).update(state="quarantined")
    PhoneNumber.objects.filter(number=LOCAL_B).update(state="returned")

    response = alice.post(ORDERS, {"numbers": [LOCAL_A, LOCAL_B]})

    assert response.status_code == 409
    assert response.json()["error"]["details"]["unavailable_numbers"] == [LOCAL_A, LOCAL_B]


def test_it_checks_credit_before_claiming_anything(inventory):
    poor = make_org("Poor Org", credit_cents=150)
    api = make_api(poor)

    # Credit is checked first: 402 even though one of the numbers is also unavailable.
    response = api.post(ORDERS, {"numbers": [LOCAL_A, LOCAL_B, "+14155559999"]})

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "INSUFFICIENT_CREDIT"
    assert response.json()["error"]["details"] == {"required_cents": 300, "available_cents": 150}
    assert owner_of(LOCAL_A) is None and owner_of(LOCAL_B) is None
    poor.refresh_from_db()
    assert poor.balance_cents == 150


def test_it_counts_held_credit_as_unavailable(inventory):
    from accounts.services import credit_hold, lock_organization

    org = make_org("Holding Org", credit_cents=200)
    from django.db import transaction

    with transaction.atomic():
        credit_hold(organization=lock_organization(org.id), cents=150, order_id=None)
    api = make_api(org)

    response = api.post(ORDERS, {"numbers": [LOCAL_A]})

    assert response.status_code == 402
    assert response.json()["error"]["details"] == {"required_cents": 100, "available_cents": 50}


def test_it_rolls_everything_back_when_the_ledger_write_fails(alice, alice_org, inventory):
    # A real database failure after the claim: the ledger table refuses inserts.
    table = CreditTransaction._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_ledger() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'ledger is down'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER refuse_ledger BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION refuse_ledger()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER refuse_ledger BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'ledger is down'); END"
            )

    response = alice.post(ORDERS, {"numbers": [LOCAL_A, LOCAL_B]})

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert owner_of(LOCAL_A) is None and owner_of(LOCAL_B) is None
    assert PhoneNumber.objects.filter(state="assigned").count() == 0
    alice_org.refresh_from_db()
    assert alice_org.balance_cents == 10_000


def test_it_needs_numbers_write(alice_org, inventory):
    api = make_api(alice_org, key_scopes=[scopes.NUMBERS_READ])

    response = api.post(ORDERS, {"numbers": [LOCAL_A]})

    assert response.status_code == 403
    assert owner_of(LOCAL_A) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "numbers"),
        ({"numbers": []}, "numbers"),
        ({"numbers": None}, "numbers"),
        ({"numbers": LOCAL_A}, "numbers"),
        ({"numbers": {"a": LOCAL_A}}, "numbers"),
        ({"numbers": [f"+1415555{n:04d}" for n in range(101)]}, "numbers"),
        ({"numbers": [LOCAL_A, LOCAL_A]}, "numbers"),
        ({"numbers": [LOCAL_A, "14155550002"]}, "numbers.1"),
        ({"numbers": ["+14155550002x"]}, "numbers.0"),
        ({"numbers": ["+19115550002"]}, "numbers.0"),  # N11 area code
        ({"numbers": ["+11155550002"]}, "numbers.0"),  # area code starting with 1
        ({"numbers": ["+14151550002"]}, "numbers.0"),  # exchange starting with 1
        ({"numbers": ["+44155550002"]}, "numbers.0"),  # not +1
        ({"numbers": ["+1４１５5550002"]}, "numbers.0"),  # full-width digits
        ({"numbers": [14155550002]}, "numbers.0"),
        ({"numbers": [None]}, "numbers.0"),
        ({"numbers": [" +14155550002"]}, "numbers.0"),
        ({"numbers": [LOCAL_A], "inbound_url": "http://example.com/in"}, "inbound_url"),
        ({"numbers": [LOCAL_A], "inbound_url": "example.com"}, "inbound_url"),
        ({"numbers": [LOCAL_A], "inbound_url": 5}, "inbound_url"),
        ({"numbers": [LOCAL_A], "status_url": "https://" + "a" * 2048 + ".com"}, "status_url"),
        ({"numbers": [LOCAL_A], "label": "x" * 65}, "label"),
        ({"numbers": [LOCAL_A], "label": "tab\there"}, "label"),
        ({"numbers": [LOCAL_A], "label": 7}, "label"),
    ],
)
def test_it_refuses_an_invalid_order_with_the_field_in_details(alice, alice_org, body, field):
    response = alice.post(ORDERS, body)

    assert response.status_code == 422, response.json()
    assert response.json()["error"]["code"] == "VALIDATION_FAILED"
    assert list(response.json()["error"]["details"]) == [field]
    alice_org.refresh_from_db()
    assert alice_org.balance_cents == 10_000


def test_it_names_the_duplicates(alice):
    response = alice.post(ORDERS, {"numbers": [LOCAL_A, LOCAL_B, LOCAL_A]})

    assert response.json()["error"]["details"] == {
        "numbers": f"must not contain duplicates: {LOCAL_A}"
    }


def test_it_refuses_an_unknown_field(alice, inventory):
    response = alice.post(ORDERS, {"numbers": [LOCAL_A], "quantity": 1})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"quantity": "unknown field"}
    assert owner_of(LOCAL_A) is None


def test_it_accepts_100_numbers(alice, alice_org, db):
    numbers = add_numbers(*[f"+1312555{n:04d}" for n in range(100)])

    response = alice.post(ORDERS, {"numbers": numbers})

    assert response.status_code == 200
    assert len(response.json()["data"]) == 100
    alice_org.refresh_from_db()
    assert alice_org.balance_cents == 0


def test_it_says_which_item_is_not_a_number(alice):
    response = alice.post(ORDERS, {"numbers": [LOCAL_A, None]})

    assert response.json()["error"]["details"] == {
        "numbers.1": "must be a US E.164 number: +1 then 10 digits, area code [2-9]XX, not N11"
    }
