"""Admin: reservations with their numbers; staff release, audited."""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from accounts.models import StaffAction
from phone_numbers.models import PhoneNumber, Reservation
from phone_numbers.services.reservations import reservation_create
from tests.support.factories import add_numbers
from tests.support.staff import staff_with

CHANGELIST = "/admin/phone_numbers/reservation/"


def test_staff_see_reservations_with_their_numbers_and_release_one(client, alice_org):
    add_numbers("+14155550001", "+14155550002")
    reservation = reservation_create(
        organization_id=alice_org.id, numbers=["+14155550001", "+14155550002"], ttl_seconds=600
    )
    staff = staff_with("view_reservation", "release_reservation")
    client.force_login(staff)

    assert client.get(CHANGELIST).status_code == 200
    page = client.get(f"{CHANGELIST}{reservation.pk}/change/").content.decode()
    assert "+14155550001" in page and "+14155550002" in page

    response = client.post(
        CHANGELIST,
        {"action": "release_reservations", ACTION_CHECKBOX_NAME: [str(reservation.pk)]},
    )

    assert response.status_code == 302
    reservation.refresh_from_db()
    assert (reservation.status, reservation.released_by) == ("released", staff)
    assert not PhoneNumber.objects.filter(reservation__isnull=False).exists()
    audit = StaffAction.objects.get(action="reservation_release")
    assert (audit.user, audit.target_id) == (staff, str(reservation.pk))


def test_without_the_permission_there_is_no_release(client, alice_org):
    add_numbers("+14155550001")
    reservation = reservation_create(
        organization_id=alice_org.id, numbers=["+14155550001"], ttl_seconds=600
    )
    client.force_login(staff_with("view_reservation"))

    client.post(
        CHANGELIST,
        {"action": "release_reservations", ACTION_CHECKBOX_NAME: [str(reservation.pk)]},
    )

    assert Reservation.objects.get(pk=reservation.pk).status == "active"
