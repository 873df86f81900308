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


@pytest.mark.parametrize(
    ("term", "found"),
    [
        # Anywhere in the number: a run of digits, the area code, the last digits.
        ("0003", ["+12125550003", "+14155550003"]),
        ("212", [f"+1212555{n:04d}" for n in range(5)]),
        # "+" can only sit at the start: a prefix.
        ("+1800", ["+18005550000", "+18005550001", "+18005550002"]),
        ("+14155550007", ["+14155550007"]),
        ("+415", []),
        # 10 or 11 digits can only follow "+" or "+1": the number, or a prefix of 10 digits.
        ("4155550007", ["+14155550007"]),
        ("14155550007", ["+14155550007"]),
        ("1415555000", [f"+1415555000{n}" for n in range(10)]),
        ("41555500071", []),
        # As staff paste it.
        ("(415) 555-0007", ["+14155550007"]),
        ("+1 415.555.0007", ["+14155550007"]),
        ("abc", []),
    ],
)
def test_the_search_finds_the_numbers_containing_the_term(
    client, superuser, inventory, term, found
):
    staff_login(client, superuser)

    response = client.get(CHANGELIST, {"q": term})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list.values_list("number", flat=True)) == found


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
