"""Admin: a number's history on its page; staff release / return through the services."""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from orders.models import BulkOrder
from phone_numbers.models import PhoneNumber, PhoneNumberEvent
from tests.support.factories import add_numbers, give, number
from tests.support.staff import staff_login, staff_with

CHANGELIST = "/admin/phone_numbers/phonenumber/"


def detail(number_id):
    return f"{CHANGELIST}{number_id}/change/"


def run_action(client, action, ids, reason="customer asked by phone"):
    return client.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: ids, "apply": "1", "reason": reason},
        follow=True,
    )


def test_the_number_page_shows_its_history_with_order_and_who(client, superuser, alice, alice_org):
    add_numbers("+13125550100")
    placed = alice.post("/v1/phone-numbers/bulk", {"quantity": 1, "area_code": "312"})
    assert placed.status_code == 200
    number_id = PhoneNumber.objects.get(number="+13125550100").pk
    alice.delete(f"/v1/phone-numbers/{number_id}")
    order_id = BulkOrder.objects.get().id
    staff_login(client, superuser)

    response = client.get(detail(number_id))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Assigned" in body and "Released" in body
    assert f"/admin/orders/bulkorder/{order_id}/change/" in body
    assert "Alice Telecom" in body
    assert "API key am_live_" in body


def test_staff_with_the_release_permission_release_numbers_with_a_reason(client, alice_org):
    ids = give(alice_org, "+14155550100", "+14155550101", label="x")
    available = add_numbers("+14155550102")
    available_id = PhoneNumber.objects.get(number=available[0]).pk
    user = staff_with("view_phonenumber", "release_phonenumber")
    staff_login(client, user)

    response = run_action(client, "release_numbers", [*ids.values(), available_id])

    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert "Released 2 number(s)." in messages
    assert any("1 number(s) left as they were: +14155550102" in m for m in messages)
    for number_id in ids.values():
        row = number(number_id)
        assert (row.state, row.organization_id, row.label) == ("quarantined", None, None)
    event = PhoneNumberEvent.objects.filter(kind="released").first()
    assert (event.staff_user, event.note, event.organization_id) == (
        user,
        "customer asked by phone",
        alice_org.id,
    )
    assert number(available_id).state == "available"


def test_the_release_action_asks_for_a_reason_first(client, alice_org):
    ids = give(alice_org, "+14155550100")
    staff_login(client, staff_with("view_phonenumber", "release_phonenumber"))

    response = client.post(
        CHANGELIST, {"action": "release_numbers", ACTION_CHECKBOX_NAME: list(ids.values())}
    )

    assert response.status_code == 200
    assert "A reason is required" in response.content.decode()
    assert number(ids["+14155550100"]).state == "assigned"


def test_staff_without_the_permission_get_no_release_action(client, alice_org):
    ids = give(alice_org, "+14155550100")
    staff_login(client, staff_with("view_phonenumber"))

    response = run_action(client, "release_numbers", list(ids.values()))

    assert "release_numbers" not in response.content.decode()
    assert number(ids["+14155550100"]).state == "assigned"


def test_returning_to_the_carrier_is_superuser_only(client, superuser, alice_org):
    ids = give(alice_org, "+14155550100")
    add_numbers("+14155550101")
    spare = PhoneNumber.objects.get(number="+14155550101").pk
    staff_login(client, staff_with("view_phonenumber", "release_phonenumber"))

    run_action(client, "return_numbers", [*ids.values(), spare])

    assert number(ids["+14155550100"]).state == "assigned"
    staff_login(client, superuser)
    response = run_action(client, "return_numbers", [*ids.values(), spare])

    assert "Returned 2 number(s)." in [str(m) for m in response.context["messages"]]
    assert number(ids["+14155550100"]).state == number(spare).state == "returned"
    assert set(
        PhoneNumberEvent.objects.filter(kind="returned").values_list("staff_user", flat=True)
    ) == {superuser.pk}
