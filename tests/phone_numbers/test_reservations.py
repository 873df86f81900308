"""Reservations (API.md §2.2) through the HTTP API: partial success, invisibility to other
organizations on every route, the reserver's explicit order, expiry without a sweeper, extend
bounds, release, the cap, and the tidy task."""

from datetime import timedelta

import pytest
from django.utils import timezone

from phone_numbers.models import PhoneNumber, Reservation
from phone_numbers.services.reservations import reservations_tidy
from tests.support.factories import add_numbers, owner_of

RESERVATIONS = "/v1/phone-numbers/reservations"
SEARCH = "/v1/phone-numbers/search"
ORDERS = "/v1/phone-numbers/orders"
BULK = "/v1/phone-numbers/bulk"

A, B, C = "+14155550001", "+14155550002", "+14155550003"


@pytest.fixture
def numbers(db):
    return add_numbers(A, B, C)


def reserve(api, *numbers, **extra):
    return api.post(RESERVATIONS, {"numbers": list(numbers), **extra})


def expire(reservation_id):
    """Move a reservation's expiry into the past, as time passing would (no sweeper run)."""
    past = timezone.now() - timedelta(seconds=1)
    Reservation.objects.filter(pk=reservation_id).update(expires_at=past)
    PhoneNumber.objects.filter(reservation_id=reservation_id).update(reserved_until=past)


def searched(api, **criteria):
    return [
        row["number"] for row in api.post(SEARCH, {"area_code": "415", **criteria}).json()["data"]
    ]


def test_it_reserves_what_is_free_and_lists_the_rest(alice, numbers):
    PhoneNumber.objects.filter(number=C).update(state="quarantined")

    response = reserve(alice, A, B, C, "+14155550009", ttl_seconds=600)

    assert response.status_code == 201, response.json()
    data = response.json()["data"]
    assert data["status"] == "active"
    assert data["reserved_numbers"] == [A, B]
    assert data["unavailable_numbers"] == [C, "+14155550009"]
    assert data["ordered_numbers"] == []
    assert alice.get(f"{RESERVATIONS}/{data['id']}").json()["data"] == data


def test_none_free_is_409_and_records_nothing(alice, bob, numbers):
    reserve(bob, A)

    response = reserve(alice, A)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "INSUFFICIENT_INVENTORY"
    assert response.json()["error"]["details"]["unavailable_numbers"] == [A]
    assert Reservation.objects.filter(organization__name="Alice Telecom").count() == 0


def test_another_organization_cannot_see_reserve_order_or_bulk_claim_it(alice, bob, numbers):
    assert reserve(alice, A, B).status_code == 201

    assert searched(bob) == [C]
    assert reserve(bob, A).status_code == 409
    order = bob.post(ORDERS, {"numbers": [A]})
    assert order.status_code == 409
    assert order.json()["error"]["details"]["unavailable_numbers"] == [A]
    bulk = bob.post(BULK, {"quantity": 1, "area_code": "415"})
    assert bulk.status_code == 200
    assert bulk.json()["data"]["assigned_numbers"] == [C]
    assert owner_of(A) is None and owner_of(B) is None


def test_the_reserver_sees_and_orders_them_and_the_reservation_becomes_ordered(alice, numbers):
    reservation_id = reserve(alice, A, B).json()["data"]["id"]
    assert searched(alice) == [A, B, C]

    assert alice.post(ORDERS, {"numbers": [A]}).status_code == 200
    partly = alice.get(f"{RESERVATIONS}/{reservation_id}").json()["data"]
    assert (partly["status"], partly["ordered_numbers"]) == ("active", [A])

    assert alice.post(ORDERS, {"numbers": [B]}).status_code == 200
    done = alice.get(f"{RESERVATIONS}/{reservation_id}").json()["data"]
    assert (done["status"], done["ordered_numbers"]) == ("ordered", [A, B])
    assert owner_of(A) == owner_of(B) is not None
    assert not PhoneNumber.objects.filter(reservation__isnull=False).exists()


def test_the_reservers_bulk_orders_do_not_spend_its_held_numbers(alice, numbers):
    reserve(alice, A, B)

    response = alice.post(BULK, {"quantity": 1, "area_code": "415"})

    assert response.json()["data"]["assigned_numbers"] == [C]


def test_expiry_frees_the_numbers_at_once_without_a_sweeper(alice, bob, numbers):
    reservation_id = reserve(alice, A).json()["data"]["id"]
    expire(reservation_id)

    assert alice.get(f"{RESERVATIONS}/{reservation_id}").json()["data"]["status"] == "expired"
    assert A in searched(bob)
    assert bob.post(ORDERS, {"numbers": [A]}).status_code == 200
    assert PhoneNumber.objects.get(number=A).reservation_id is None


def test_an_expired_hold_is_free_for_bulk_claims_too(alice, bob, numbers):
    expire(reserve(alice, A, B, C).json()["data"]["id"])

    response = bob.post(BULK, {"quantity": 3, "area_code": "415"})

    assert response.json()["data"]["assigned_numbers"] == [A, B, C]


def test_extend_moves_the_expiry_up_to_four_hours_after_creation(alice, numbers):
    data = reserve(alice, A, ttl_seconds=60).json()["data"]
    path = f"{RESERVATIONS}/{data['id']}/extend"

    longer = alice.post(path, {"ttl_seconds": 3600})
    assert longer.status_code == 200, longer.json()
    assert longer.json()["data"]["expires_at"] > data["expires_at"]

    reservation = Reservation.objects.get(pk=data["id"])
    Reservation.objects.filter(pk=data["id"]).update(
        created_at=reservation.created_at - timedelta(hours=3, minutes=30)
    )
    capped = alice.post(path, {"ttl_seconds": 14400}).json()["data"]
    reservation.refresh_from_db()
    assert reservation.expires_at == reservation.created_at + timedelta(hours=4)
    assert PhoneNumber.objects.get(number=A).reserved_until == reservation.expires_at
    assert capped["expires_at"].startswith(reservation.expires_at.strftime("%Y-%m-%dT%H:%M"))


@pytest.mark.parametrize("ttl", [59, 14401, "600", None, 60.0, True])
def test_ttl_bounds(alice, numbers, ttl):
    response = reserve(alice, A, ttl_seconds=ttl)

    assert response.status_code == 422
    assert list(response.json()["error"]["details"]) == ["ttl_seconds"]


def test_extend_of_an_ended_reservation_is_409(alice, numbers):
    expired_id = reserve(alice, A).json()["data"]["id"]
    expire(expired_id)
    released_id = reserve(alice, B).json()["data"]["id"]
    alice.delete(f"{RESERVATIONS}/{released_id}")

    for reservation_id, status in ((expired_id, "expired"), (released_id, "released")):
        response = alice.post(f"{RESERVATIONS}/{reservation_id}/extend", {"ttl_seconds": 600})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "RESERVATION_NOT_ACTIVE"
        assert response.json()["error"]["details"] == {"status": status}


def test_delete_releases_the_numbers_now(alice, bob, numbers):
    reservation_id = reserve(alice, A).json()["data"]["id"]

    response = alice.delete(f"{RESERVATIONS}/{reservation_id}")

    assert response.status_code == 200
    assert response.json()["data"]["status"] == "released"
    assert bob.post(ORDERS, {"numbers": [A]}).status_code == 200
    assert alice.delete(f"{RESERVATIONS}/{reservation_id}").json()["data"]["status"] == "released"


def test_over_the_cap_is_422_and_holds_nothing(alice, numbers, settings):
    settings.RESERVATION_MAX_ACTIVE_NUMBERS = 2
    reserve(alice, A)

    response = reserve(alice, B, C)

    assert response.status_code == 422
    assert "at most 2 numbers" in response.json()["error"]["details"]["numbers"]
    assert PhoneNumber.objects.filter(reserved_by__isnull=False).count() == 1


def test_it_honours_idempotency_key(alice, numbers):
    headers = {"HTTP_IDEMPOTENCY_KEY": "res-1"}
    first = alice.post(RESERVATIONS, {"numbers": [A]}, **headers)
    again = alice.post(RESERVATIONS, {"numbers": [A]}, **headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Reservation.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"numbers": []}, {"numbers": [A, A]}, {"numbers": ["415"]}, {"numbers": A}],
)
def test_it_validates_numbers(alice, numbers, body):
    response = alice.post(RESERVATIONS, body)

    assert response.status_code == 422
    assert list(response.json()["error"]["details"])[0].startswith("numbers")


def test_tidy_writes_expired_reservations_down_and_clears_the_numbers(alice, numbers):
    expired_id = reserve(alice, A).json()["data"]["id"]
    expire(expired_id)
    active_id = reserve(alice, B).json()["data"]["id"]

    assert reservations_tidy() == 1

    assert Reservation.objects.get(pk=expired_id).status == "expired"
    assert Reservation.objects.get(pk=active_id).status == "active"
    assert PhoneNumber.objects.get(number=A).reservation_id is None
    assert str(PhoneNumber.objects.get(number=B).reservation_id) == active_id
    assert reservations_tidy() == 0
