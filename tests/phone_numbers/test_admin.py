import pytest
from django.contrib.auth import get_user_model

from phone_numbers.models import NumberPrice, PhoneNumber
from tests.support.factories import add_numbers
from tests.support.staff import staff_login

CHANGELIST = "/admin/phone_numbers/phonenumber/"


@pytest.fixture
def staff(db):
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("staff", password="pw-12345-xyz", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_numberprice", "change_numberprice"])
    )
    return user


def test_it_lists_inventory_with_counts_per_state(client, superuser, inventory):
    PhoneNumber.objects.filter(number="+14155550000").update(state="quarantined")
    staff_login(client, superuser)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Available: <strong>17</strong>" in body
    assert "Quarantined: <strong>1</strong>" in body


def test_it_filters_by_state_type_and_area_code_and_searches_by_number(
    client, superuser, inventory
):
    staff_login(client, superuser)

    response = client.get(
        CHANGELIST, {"state": "available", "number_type": "local", "area_code": "212", "q": "0003"}
    )

    assert response.status_code == 200
    assert list(response.context["cl"].result_list.values_list("number", flat=True)) == [
        "+12125550003"
    ]


def test_it_filters_by_organization(client, superuser, alice, alice_org, inventory):
    alice.post("/v1/phone-numbers/orders", {"numbers": ["+14155550001"]})
    staff_login(client, superuser)

    response = client.get(CHANGELIST, {"organization__id__exact": str(alice_org.id)})

    assert [n.number for n in response.context["cl"].result_list] == ["+14155550001"]


def test_a_superuser_edits_a_price(client, superuser):
    price = NumberPrice.objects.get(number_type="local")
    staff_login(client, superuser)

    response = client.post(
        f"/admin/phone_numbers/numberprice/{price.pk}/change/", {"price_cents": 150}
    )

    assert response.status_code == 302
    price.refresh_from_db()
    assert price.price_cents == 150


def test_other_staff_only_see_prices(client, staff):
    price = NumberPrice.objects.get(number_type="local")
    staff_login(client, staff)

    response = client.post(
        f"/admin/phone_numbers/numberprice/{price.pk}/change/", {"price_cents": 1}
    )

    assert response.status_code == 403
    price.refresh_from_db()
    assert price.price_cents == 100


def test_seeded_numbers_show_in_the_changelist(client, superuser, db):
    add_numbers("+13125550001")
    staff_login(client, superuser)

    assert "+13125550001" in client.get(CHANGELIST).content.decode()
