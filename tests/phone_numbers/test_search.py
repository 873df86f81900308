import pytest

from accounts import scopes
from phone_numbers.models import PhoneNumber
from tests.support.factories import add_numbers, make_api

SEARCH = "/v1/phone-numbers/search"


def test_it_lists_available_local_numbers_by_default(alice, inventory):
    response = alice.post(SEARCH, {})

    assert response.status_code == 200
    data = response.json()["data"]
    assert len(data) == 10
    assert all(row["number_type"] == "local" for row in data)
    assert set(data[0]) == {"number", "number_type", "area_code", "features"}
    assert data[0]["features"] == ["sms", "mms", "voice"]
    assert [row["number"] for row in data] == sorted(row["number"] for row in data)


def test_it_filters_by_area_code_pattern_and_quantity(alice, inventory):
    response = alice.post(SEARCH, {"area_code": "212", "pattern": "5550003", "quantity": 5})

    assert response.status_code == 200
    assert response.json()["data"] == [
        {
            "number": "+12125550003",
            "number_type": "local",
            "area_code": "212",
            "features": ["sms", "mms", "voice"],
        }
    ]


def test_it_matches_the_pattern_anywhere_in_the_national_number(alice, db):
    add_numbers("+14155551234", "+13125559999", "+12125551415")

    response = alice.post(SEARCH, {"pattern": "1415"})

    # Not across the country code: +1 415... does not contain 1415 in its national number.
    assert [row["number"] for row in response.json()["data"]] == ["+12125551415"]


def test_it_searches_toll_free(alice, inventory):
    response = alice.post(SEARCH, {"number_type": "toll_free", "area_code": "800"})

    assert response.status_code == 200
    assert {row["area_code"] for row in response.json()["data"]} == {"800"}
    assert len(response.json()["data"]) == 3


def test_it_reserves_nothing_and_skips_numbers_that_are_not_available(alice, inventory):
    PhoneNumber.objects.filter(number="+14155550000").update(state="quarantined")

    first = alice.post(SEARCH, {"area_code": "415", "quantity": 100}).json()["data"]
    second = alice.post(SEARCH, {"area_code": "415", "quantity": 100}).json()["data"]

    assert first == second
    assert "+14155550000" not in [row["number"] for row in first]
    assert PhoneNumber.objects.filter(state="available").count() == 17


def test_it_needs_numbers_write(alice_org, inventory):
    api = make_api(alice_org, key_scopes=[scopes.NUMBERS_READ])

    response = api.post(SEARCH, {})

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"number_type": "mobile"}, "number_type"),
        ({"number_type": 1}, "number_type"),
        ({"number_type": None}, "number_type"),
        ({"number_type": ""}, "number_type"),
        ({"area_code": "911"}, "area_code"),  # N11
        ({"area_code": "111"}, "area_code"),  # [2-9]XX
        ({"area_code": "800"}, "area_code"),  # toll-free is not local
        ({"area_code": "41"}, "area_code"),
        ({"area_code": "4155"}, "area_code"),
        ({"area_code": 415}, "area_code"),
        ({"area_code": "４１５"}, "area_code"),  # full-width digits
        ({"area_code": " 415"}, "area_code"),
        ({"area_code": ""}, "area_code"),
        ({"number_type": "toll_free", "area_code": "415"}, "area_code"),
        ({"number_type": "toll_free", "area_code": "899"}, "area_code"),
        ({"pattern": ""}, "pattern"),
        ({"pattern": "12345678901"}, "pattern"),
        ({"pattern": "12-"}, "pattern"),
        ({"pattern": "1%"}, "pattern"),
        ({"pattern": "١٢٣"}, "pattern"),  # Arabic-Indic digits
        ({"pattern": "１２３"}, "pattern"),
        ({"pattern": 123}, "pattern"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 101}, "quantity"),
        ({"quantity": "5"}, "quantity"),
        ({"quantity": 5.5}, "quantity"),
        ({"quantity": 5.0}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": None}, "quantity"),
    ],
)
def test_it_refuses_invalid_criteria_with_the_field_in_details(alice, body, field):
    response = alice.post(SEARCH, body)

    assert response.status_code == 422, response.json()
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert list(error["details"]) == [field]


def test_it_says_what_a_quantity_must_be(alice):
    response = alice.post(SEARCH, {"quantity": 0})

    assert response.json()["error"]["details"] == {"quantity": "must be an integer from 1 to 100"}


def test_it_accepts_null_area_code_and_pattern_as_any(alice, inventory):
    response = alice.post(SEARCH, {"area_code": None, "pattern": None, "quantity": 100})

    assert response.status_code == 200
    assert len(response.json()["data"]) == 15


def test_it_refuses_an_unknown_field(alice):
    response = alice.post(SEARCH, {"areacode": "415"})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"areacode": "unknown field"}
