"""The criteria of API.md §2.1, on search, quotes and bulk orders: the same matches and the
same messages on every route (one definition, phone_numbers.serializers.CriteriaInput and
allocation.criteria_sql)."""

import pytest
from rest_framework import serializers

from phone_numbers import selectors
from phone_numbers.allocation import Criteria
from phone_numbers.models import PhoneNumber
from phone_numbers.serializers import (
    EXCHANGE_MESSAGE,
    FEATURES_MESSAGE,
    PATTERN_MESSAGE,
    NumberPreviewSerializer,
)
from tests.support.factories import add_numbers

SEARCH = "/v1/phone-numbers/search"
BULK = "/v1/phone-numbers/bulk"
QUOTE = "/v1/phone-numbers/bulk/quote"

NUMBERS = [
    "+14155552255",  # ends with CALL
    "+14155550100",
    "+14157772255",  # ends with CALL, exchange 777
    "+14157770100",
    "+12125552255",  # ends with CALL, another area code
    "+12124150000",  # contains 415 after the area code
    "+18005552255",  # toll-free
]


@pytest.fixture
def criteria_inventory(db):
    add_numbers(*NUMBERS)
    PhoneNumber.objects.filter(number="+14157772255").update(voice_enabled=False)
    PhoneNumber.objects.filter(number="+14155552255").update(mms_enabled=False)


def searched(api, **criteria) -> list[str]:
    response = api.post(SEARCH, {"quantity": 100, **criteria})
    assert response.status_code == 200, response.json()
    return [row["number"] for row in response.json()["data"]]


def bulk_claimed(api, **criteria) -> list[str] | int:
    """What a bulk order for every number the search finds gets (the same set), or the status."""
    count = len(searched(api, **criteria))
    if not count:
        return []
    response = api.post(BULK, {"quantity": count, **criteria})
    assert response.status_code == 200, response.json()
    return sorted(response.json()["data"]["assigned_numbers"])


CASES = [
    ({"ends_with": "2255"}, ["+12125552255", "+14155552255", "+14157772255"]),
    ({"ends_with": "CALL"}, ["+12125552255", "+14155552255", "+14157772255"]),
    ({"ends_with": "call"}, ["+12125552255", "+14155552255", "+14157772255"]),
    ({"area_code": "415", "ends_with": "CALL"}, ["+14155552255", "+14157772255"]),
    ({"area_code": "415", "exchange": "777"}, ["+14157770100", "+14157772255"]),
    ({"area_code": "415", "exchange": "777", "ends_with": "0100"}, ["+14157770100"]),
    ({"area_code": "415", "starts_with": "77"}, ["+14157770100", "+14157772255"]),
    ({"area_code": "415", "starts_with": "PP"}, ["+14157770100", "+14157772255"]),
    ({"area_code": "415", "exchange": "777", "starts_with": "7770"}, ["+14157770100"]),
    ({"area_code": "415", "exchange": "555", "starts_with": "777"}, []),
    ({"starts_with": "212"}, ["+12124150000", "+12125552255"]),
    ({"starts_with": "2124"}, ["+12124150000"]),
    (
        {"contains": "415"},
        ["+12124150000", "+14155550100", "+14155552255", "+14157770100", "+14157772255"],
    ),
    ({"pattern": "4150"}, ["+12124150000"]),
    ({"contains": "1415"}, []),  # not across the country code
    ({"features": ["voice"], "ends_with": "2255"}, ["+12125552255", "+14155552255"]),
    ({"features": ["mms", "voice"], "ends_with": "2255"}, ["+12125552255"]),
    ({"features": [], "area_code": "212"}, ["+12124150000", "+12125552255"]),
    ({"number_type": "toll_free", "ends_with": "CALL"}, ["+18005552255"]),
]


@pytest.mark.parametrize(("criteria", "expected"), CASES)
def test_search_quote_and_bulk_match_the_same_numbers(
    alice, criteria_inventory, criteria, expected
):
    assert searched(alice, **criteria) == expected
    quote = alice.post(QUOTE, {"quantity": 100, **criteria})
    assert quote.status_code == 200, quote.json()
    assert quote.json()["data"]["available_now"] == len(expected)
    assert bulk_claimed(alice, **criteria) == expected


def test_vanity_letters_equal_their_digits(alice, criteria_inventory):
    for word, digits in (("CALL", "2255"), ("pqrs", "7777"), ("WxYz", "9999"), ("1a2D", "1223")):
        assert searched(alice, ends_with=word) == searched(alice, ends_with=digits)


def test_search_shows_features(alice, criteria_inventory):
    rows = alice.post(SEARCH, {"area_code": "415", "ends_with": "2255"}).json()["data"]

    assert {row["number"]: row["features"] for row in rows} == {
        "+14155552255": ["sms", "voice"],
        "+14157772255": ["sms", "mms"],
    }


def test_a_search_result_renders_as_drfs_fields_render_it(alice, criteria_inventory):
    """NumberPreviewSerializer renders without its field objects (speed): its answer, keys in
    order, must stay the one its declared fields give."""
    rows = alice.post(SEARCH, {"area_code": "415"}).json()["data"]
    found = selectors.available_numbers_search(
        criteria=Criteria.from_data({"area_code": "415", "number_type": "local"}),
        quantity=10,
        organization_id=None,
    )

    generic = [
        serializers.Serializer.to_representation(NumberPreviewSerializer(), row) for row in found
    ]
    assert [list(row.items()) for row in rows] == [list(row.items()) for row in generic]
    assert len(rows) == 4 and ["sms", "voice"] in [row["features"] for row in rows]


def test_a_bulk_order_short_of_matching_numbers_is_409(alice, criteria_inventory, settings):
    settings.SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES = ["415"]  # the carrier cannot top up
    body = {"quantity": 4, "area_code": "415", "ends_with": "CALL", "features": ["voice"]}

    response = alice.post(BULK, body)

    assert response.status_code == 409, response.json()
    # Of 415's two numbers ending CALL, one has voice disabled.
    assert response.json()["error"]["details"]["available_count"] == 1
    assert PhoneNumber.objects.filter(state=PhoneNumber.State.ASSIGNED).count() == 0


DIGITS_FIELDS = ("pattern", "contains", "starts_with", "ends_with")
INVALID = [
    *[
        ({name: value}, {name: PATTERN_MESSAGE})
        for name in DIGITS_FIELDS
        for value in ("", "12345678901", "12-4", "١٢٣", "１２３", "ÇALL", 123, [], True, " 12")
    ],
    ({"exchange": "555"}, {"exchange": "needs area_code"}),
    ({"area_code": "415", "exchange": "155"}, {"exchange": EXCHANGE_MESSAGE}),
    ({"area_code": "415", "exchange": "55"}, {"exchange": EXCHANGE_MESSAGE}),
    ({"area_code": "415", "exchange": 555}, {"exchange": EXCHANGE_MESSAGE}),
    ({"area_code": "415", "exchange": "５５５"}, {"exchange": EXCHANGE_MESSAGE}),
    ({"area_code": "415", "exchange": ""}, {"exchange": EXCHANGE_MESSAGE}),
    (
        {"pattern": "555", "contains": "555"},
        {"contains": "send pattern or contains, not both (they are the same)"},
    ),
    ({"features": ["sms", "sms"]}, {"features": "must not contain duplicates"}),
    ({"features": ["fax"]}, {"features": FEATURES_MESSAGE}),
    ({"features": "sms"}, {"features": FEATURES_MESSAGE}),
    ({"features": [1]}, {"features": FEATURES_MESSAGE}),
    ({"features": ["sms", "mms", "voice", "sms"]}, {"features": "must not contain duplicates"}),
]


@pytest.mark.parametrize("route", [SEARCH, BULK, QUOTE])
@pytest.mark.parametrize(("body", "details"), INVALID)
def test_every_route_refuses_bad_criteria_with_the_same_message(alice, db, route, body, details):
    response = alice.post(route, {**({"quantity": 1} if route != SEARCH else {}), **body})

    assert response.status_code == 422, response.json()
    assert response.json()["error"]["details"] == details


def test_fulfilment_keeps_the_criteria(alice_org, criteria_inventory):
    from orders.models import BulkOrder
    from orders.services import criteria_of

    order = BulkOrder(
        organization=alice_org,
        quantity=1,
        number_type="local",
        area_code="415",
        exchange="777",
        ends_with="2255",
        features=["sms"],
        unit_price_cents=100,
    )

    criteria = criteria_of(order)

    assert (criteria.area_code, criteria.exchange, criteria.ends_with, criteria.features) == (
        "415",
        "777",
        "2255",
        ("sms",),
    )
