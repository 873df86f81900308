"""POST /v1/phone-numbers/orders honours Idempotency-Key (API.md §4)."""

from accounts.models import CreditTransaction
from phone_numbers.models import PhoneNumber


def test_a_retried_explicit_order_assigns_and_charges_once(alice, alice_org):
    PhoneNumber.objects.create(number="+14155550123", number_type="local", area_code="415")
    body = {"numbers": ["+14155550123"], "label": "once"}

    first = alice.post("/v1/phone-numbers/orders", body, HTTP_IDEMPOTENCY_KEY="order-1")
    again = alice.post("/v1/phone-numbers/orders", body, HTTP_IDEMPOTENCY_KEY="order-1")

    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert CreditTransaction.objects.filter(organization=alice_org, kind="charge").count() == 1
