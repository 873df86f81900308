"""GET /v1/phone-numbers, GET / PATCH / DELETE /v1/phone-numbers/{id} (API.md §2)."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from accounts import scopes
from accounts.models import CreditTransaction
from phone_numbers.models import PhoneNumber, PhoneNumberEvent
from phone_numbers.serializers import PhoneNumberSerializer
from tests.support.factories import add_numbers, give, make_api, make_org, number

ANY = object()  # any message will do
LIST = "/v1/phone-numbers"


def one(number_id):
    return f"/v1/phone-numbers/{number_id}"


def numbers_of(response) -> list[str]:
    return [item["number"] for item in response.json()["data"]]


# --- list ---------------------------------------------------------------------------------------


def test_paging_250_numbers_by_100_returns_each_once_newest_first_while_more_are_assigned(
    db,
):
    carol_org = make_org("Carol Calls", credit_cents=1_000_000)
    carol = make_api(carol_org)
    # Five assignments of 50: assigned_at differs between batches and ties inside each, so the
    # keyset's tie-break on id is exercised too.
    for batch in range(5):
        give(carol_org, *[f"+1415{batch + 2}55{n:04d}" for n in range(50)])
    expected = [
        str(pk)
        for pk in PhoneNumber.objects.filter(organization=carol_org)
        .order_by("-assigned_at", "-pk")
        .values_list("pk", flat=True)
    ]
    assert len(expected) == 250

    seen, pages, cursor = [], [], None
    while True:
        response = carol.get(LIST, data={"limit": 100, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.json()
        page = response.json()["data"]
        pages.append(len(page))
        seen += [item["id"] for item in page]
        # A new number is assigned between pages (through the API, like a customer would).
        new = f"+1312555{len(pages):04d}"
        add_numbers(new)
        ordered = carol.post("/v1/phone-numbers/orders", {"numbers": [new]})
        assert ordered.status_code == 200, ordered.json()
        cursor = response.json()["meta"]["next_cursor"]
        if cursor is None:
            break

    assert pages == [100, 100, 50]
    assert seen == expected  # each exactly once, newest first, none of the new ones
    assert carol.get(LIST, data={"limit": 100}).json()["data"][0]["number"] == "+13125550003"


def test_it_lists_only_the_organizations_assigned_numbers_as_resources(alice, alice_org, bob_org):
    ids = give(alice_org, "+14155550100", label="support", inbound_url="https://a.example/in")
    give(bob_org, "+14155550200")

    response = alice.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {"next_cursor": None}
    [item] = body["data"]
    row = number(ids["+14155550100"])
    assert item == {
        "id": ids["+14155550100"],
        "number": "+14155550100",
        "number_type": "local",
        "area_code": "415",
        "inbound_url": "https://a.example/in",
        "status_url": None,
        "label": "support",
        "sms_enabled": True,
        "mms_enabled": True,
        "voice_enabled": True,
        "created_at": row.assigned_at.isoformat().replace("+00:00", "Z"),
        "updated_at": row.updated_at.isoformat().replace("+00:00", "Z"),
    }


def test_it_filters_by_type_area_code_label_and_search(alice, alice_org):
    give(alice_org, "+14155550100", "+14155550101", label="Support Line")
    give(alice_org, "+12125550100", label="sales")
    give(alice_org, "+18005550100")

    def listed(**params):
        response = alice.get(LIST, data=params)
        assert response.status_code == 200, response.json()
        return sorted(numbers_of(response))

    assert listed(number_type="toll_free") == ["+18005550100"]
    assert listed(area_code="212") == ["+12125550100"]
    assert listed(area_code="800") == ["+18005550100"]
    assert listed(label="sales") == ["+12125550100"]
    assert listed(label="Sales") == []  # label is an exact match
    assert listed(search="support") == ["+14155550100", "+14155550101"]  # label, any case
    assert listed(search="5550101") == ["+14155550101"]  # number substring
    assert listed(search="%") == []  # LIKE wildcards are escaped
    assert listed(number_type="local", search="0100") == ["+12125550100", "+14155550100"]
    assert listed(search="") == listed()  # empty filters are no filter


@pytest.mark.parametrize(
    ("params", "details"),
    [
        ({"number_type": "mobile"}, {"number_type": "must be one of: local, toll_free"}),
        ({"area_code": "41"}, {"area_code": ANY}),
        ({"area_code": "911"}, {"area_code": ANY}),
        ({"area_code": "४१५"}, {"area_code": ANY}),  # Devanagari digits
        ({"label": "x" * 65}, {"label": "must be at most 64 characters"}),
        ({"search": "x" * 10_000}, {"search": "must be at most 64 characters"}),
        ({"search": "a\x00b"}, {"search": ANY}),
        ({"limit": "0"}, {"limit": "must be an integer from 1 to 100"}),
        ({"cursor": "forged"}, {"cursor": "is not a cursor this API returned"}),
    ],
)
def test_bad_filters_are_422_keyed_by_the_parameter(alice, alice_org, params, details):
    give(alice_org, "+14155550100")

    response = alice.get(LIST, data=params)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert set(error["details"]) == set(details)
    for key, message in details.items():
        if message is not ANY:
            assert error["details"][key] == message


def test_the_list_needs_numbers_read(alice_org):
    response = make_api(alice_org, [scopes.NUMBERS_WRITE]).get(LIST)

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "missing required scope"


# --- one number -------------------------------------------------------------------------------


def test_it_gets_one_number(alice, alice_org):
    ids = give(alice_org, "+14155550100")

    response = alice.get(one(ids["+14155550100"]))

    assert response.status_code == 200
    assert response.json()["data"]["number"] == "+14155550100"


def test_a_number_renders_as_drfs_generic_serializer_renders_it(alice, alice_org, settings):
    """PhoneNumberSerializer renders without a field object per value (speed): its answer must
    stay the one ModelSerializer's fields give, for routing set, cleared and never set, in UTC
    and in another time zone."""
    ids = give(alice_org, "+14155550100", "+14155550101", label="a", inbound_url="https://x/in")
    PhoneNumber.objects.filter(number="+14155550101").update(label="", status_url="https://x/s")
    listed = alice.get("/v1/phone-numbers").json()["data"]
    numbers = PhoneNumber.objects.filter(pk__in=ids.values())

    for zone in ("UTC", "America/New_York"):
        settings.TIME_ZONE = zone
        with timezone.override(zone):
            for row in numbers:
                generic = serializers.ModelSerializer.to_representation(
                    PhoneNumberSerializer(), row
                )
                assert PhoneNumberSerializer(row).data == generic
    settings.TIME_ZONE = "UTC"
    assert {row["number"]: row for row in listed} == {
        row.number: serializers.ModelSerializer.to_representation(PhoneNumberSerializer(), row)
        for row in numbers
    }
    assert listed[0]["created_at"].endswith("Z")


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_a_malformed_id_is_422_details_id(alice, method):
    response = getattr(alice, method)(one("not-a-uuid"))

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"id": "must be a UUID"}


def test_an_unknown_id_is_404(alice):
    response = alice.get(one(uuid.uuid4()))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_put_is_405(alice, alice_org):
    ids = give(alice_org, "+14155550100")

    assert alice.client.put(one(ids["+14155550100"]), {}, format="json").status_code == 405


# --- PATCH ------------------------------------------------------------------------------------


@pytest.fixture
def routed(alice_org):
    ids = give(alice_org, "+14155550100", label="old", inbound_url="https://old.example/in")
    PhoneNumber.objects.filter(number="+14155550100").update(
        status_url="https://old.example/status"
    )
    return ids["+14155550100"]


def test_patch_changes_only_the_fields_given(alice, routed):
    response = alice.patch(one(routed), {"label": "new"})

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["label"] == "new"
    assert data["inbound_url"] == "https://old.example/in"
    assert data["status_url"] == "https://old.example/status"
    assert number(routed).label == "new"


def test_patch_null_leaves_a_field_and_empty_string_clears_it(alice, routed):
    response = alice.patch(one(routed), {"inbound_url": None, "status_url": "", "label": ""})

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["inbound_url"] == "https://old.example/in"
    assert data["status_url"] is None
    assert data["label"] is None
    row = number(routed)
    assert (row.inbound_url, row.status_url, row.label) == ("https://old.example/in", None, None)


def test_patch_with_an_empty_object_changes_nothing(alice, routed):
    before = number(routed)

    response = alice.patch(one(routed), {})

    assert response.status_code == 200
    assert number(routed).updated_at == before.updated_at


@pytest.mark.parametrize("field", ["number", "state", "number_type", "sms_enabled", "id"])
def test_patch_refuses_any_other_field_with_400(alice, routed, field):
    response = alice.patch(one(routed), {"label": "new", field: "x"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_INPUT"
    assert response.json()["error"]["details"] == {field: "unknown field"}
    assert number(routed).label == "old"


@pytest.mark.parametrize(
    "body",
    [
        {"inbound_url": "http://plain.example/in"},
        {"status_url": "/relative"},
        {"inbound_url": "https://" + "a" * 2050 + ".example"},
        {"inbound_url": 5},
        {"label": "x" * 65},
        {"label": "bell\x07"},
        {"label": 7},
    ],
)
def test_patch_validates_routing_like_orders_do(alice, routed, body):
    response = alice.patch(one(routed), body)

    assert response.status_code == 422
    assert list(response.json()["error"]["details"]) == list(body)
    assert number(routed).label == "old"


@pytest.mark.parametrize("raw", [b"[]", b"", b"{bad json"])
def test_patch_needs_a_json_object(alice, routed, raw):
    response = alice.client.patch(one(routed), raw, content_type="application/json")

    assert response.status_code == 400


def test_patch_needs_numbers_write(alice_org, routed):
    reader = make_api(alice_org, [scopes.NUMBERS_READ])

    assert reader.patch(one(routed), {"label": "x"}).status_code == 403
    assert reader.get(one(routed)).status_code == 200
    assert number(routed).label == "old"


# --- DELETE -----------------------------------------------------------------------------------


def test_delete_quarantines_clears_routing_and_then_the_number_is_gone(alice, alice_org, routed):
    ledger_before = CreditTransaction.objects.filter(organization=alice_org).count()

    response = alice.delete(one(routed))

    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"status": "released"}}
    row = number(routed)
    assert row.state == PhoneNumber.State.QUARANTINED
    assert row.organization_id is None
    assert (row.inbound_url, row.status_url, row.label) == (None, None, None)
    expected_end = timezone.now() + timedelta(days=30)
    assert abs(row.quarantine_ends_at - expected_end) < timedelta(seconds=30)
    # Gone for the organization, and nothing refunded.
    assert alice.get(one(routed)).status_code == 404
    assert alice.get(LIST).json()["data"] == []
    assert alice.delete(one(routed)).status_code == 404
    assert CreditTransaction.objects.filter(organization=alice_org).count() == ledger_before
    [event] = PhoneNumberEvent.objects.filter(number_id=routed, kind="released")
    assert event.organization_id == alice_org.id
    assert event.request_id == response["X-Request-Id"]
    assert event.api_key_id is not None


def test_quarantine_length_follows_the_setting(alice, routed, settings):
    settings.NUMBER_QUARANTINE_DAYS = 7

    alice.delete(one(routed))

    ends = number(routed).quarantine_ends_at
    assert abs(ends - (timezone.now() + timedelta(days=7))) < timedelta(seconds=30)


def test_return_to_carrier_without_the_platform_scope_is_403_and_touches_nothing(alice_org, routed):
    customer = make_api(alice_org, scopes.CUSTOMER_DEFAULT)
    before = number(routed)

    response = customer.delete(one(routed) + "?return_to_carrier=true")

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "missing required scope"
    after = number(routed)
    assert (after.state, after.organization_id, after.label, after.updated_at) == (
        before.state,
        before.organization_id,
        before.label,
        before.updated_at,
    )


def test_return_to_carrier_with_the_platform_scope_marks_it_returned(alice_org, routed, bob):
    staff_grade = make_api(alice_org, [scopes.NUMBERS_WRITE, scopes.PLATFORM_INVENTORY_WRITE])

    response = staff_grade.delete(one(routed) + "?return_to_carrier=true")

    assert response.status_code == 200
    assert response.json()["data"] == {"status": "released"}
    row = number(routed)
    assert (row.state, row.organization_id, row.quarantine_ends_at) == ("returned", None, None)
    # Never sold again.
    assert bob.post("/v1/phone-numbers/orders", {"numbers": [row.number]}).status_code == 409


def test_return_to_carrier_false_is_a_plain_release(alice, routed):
    response = alice.delete(one(routed) + "?return_to_carrier=false")

    assert response.status_code == 200
    assert number(routed).state == PhoneNumber.State.QUARANTINED


@pytest.mark.parametrize("value", ["yes", "True", "1", "", "true&return_to_carrier=false"])
def test_any_other_return_to_carrier_value_is_422(alice, routed, value):
    response = alice.delete(one(routed) + f"?return_to_carrier={value}")

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"return_to_carrier": "must be true or false"}
    assert number(routed).state == PhoneNumber.State.ASSIGNED


def test_delete_needs_numbers_write(alice_org, routed):
    response = make_api(alice_org, [scopes.NUMBERS_READ]).delete(one(routed))

    assert response.status_code == 403
    assert number(routed).state == PhoneNumber.State.ASSIGNED
