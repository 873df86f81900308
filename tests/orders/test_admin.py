import pytest
from django.contrib.auth import get_user_model

from orders import services
from orders.models import BulkOrder
from tests.support.factories import ledger, make_numbers
from tests.support.staff import staff_login

BULK = "/v1/phone-numbers/bulk"
CHANGELIST = "/admin/orders/bulkorder/"


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    staff_login(client, user)
    return client


def test_it_lists_and_finds_orders_by_number(staff_client, alice, settings):
    settings.SIMULATED_CARRIER_DELAY_SECONDS = 0
    make_numbers(2)
    alice.post(BULK, {"quantity": 2, "label": "pool-a"})
    order = BulkOrder.objects.get()

    assert str(order.id) in staff_client.get(CHANGELIST).content.decode()
    assert str(order.id) in staff_client.get(CHANGELIST, {"q": "+14155557002"}).content.decode()
    assert str(order.id) in staff_client.get(CHANGELIST, {"q": "pool-a"}).content.decode()
    assert str(order.id) in staff_client.get(CHANGELIST, {"q": str(order.id)}).content.decode()
    assert str(order.id) not in staff_client.get(CHANGELIST, {"q": "+19999"}).content.decode()
    assert staff_client.get(CHANGELIST, {"status__exact": "complete"}).status_code == 200


def test_it_shows_numbers_ledger_and_request_id(staff_client, alice):
    make_numbers(2)
    response = alice.post(BULK, {"quantity": 2})
    order = BulkOrder.objects.get()

    page = staff_client.get(f"{CHANGELIST}{order.id}/change/").content.decode()

    assert "+14155557001" in page
    assert response["X-Request-Id"] in page
    assert "charge" in page and "-200" in page


def test_the_close_action_needs_a_reason_and_goes_through_the_service(
    staff_client, alice, alice_org
):
    order_id = alice.post(BULK, {"quantity": 3}).json()["data"]["order_id"]
    action = {"action": "close_orders", "_selected_action": [order_id]}

    form = staff_client.post(CHANGELIST, action)
    assert form.status_code == 200 and b"reason" in form.content
    still_form = staff_client.post(CHANGELIST, {**action, "apply": "1", "reason": ""})
    assert still_form.status_code == 200
    assert BulkOrder.objects.get(pk=order_id).status == "processing"

    done = staff_client.post(CHANGELIST, {**action, "apply": "1", "reason": "customer asked"})

    assert done.status_code == 302
    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.failed_count) == ("failed", 3)
    assert order.close_reason.startswith("customer asked")
    assert ledger(alice_org)[-1] == ("release", 0, -300)


def test_the_retry_action_enqueues_fulfilment(
    staff_client, alice, django_capture_on_commit_callbacks
):
    order_id = alice.post(BULK, {"quantity": 3}).json()["data"]["order_id"]

    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            CHANGELIST, {"action": "retry_fulfilment", "_selected_action": [order_id]}
        )

    assert response.status_code == 302
    assert len(callbacks) == 1
    assert services.bulk_order_retry(order_id=order_id) is True
