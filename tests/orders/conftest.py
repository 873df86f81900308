import pytest

from accounts.models import CreditTransaction
from phone_numbers.models import PhoneNumber
from tests.fakes.telnyx import FakeTelnyx


def make_numbers(count, *, area_code="415", number_type="local", exchange="555", start=7001):
    """`count` available numbers +1<area><exchange><start..>, e.g. +14155557001."""
    return PhoneNumber.objects.bulk_create(
        [
            PhoneNumber(
                number=f"+1{area_code}{exchange}{start + i:04d}",
                number_type=number_type,
                area_code=area_code,
            )
            for i in range(count)
        ]
    )


def ledger(org):
    """[(kind, amount_cents, held_change_cents)] of an organization, oldest first."""
    return list(
        CreditTransaction.objects.filter(organization=org)
        .order_by("created_at", "id")
        .values_list("kind", "amount_cents", "held_change_cents")
    )


def assert_ledger_balances(org):
    org.refresh_from_db()
    entries = ledger(org)
    assert org.balance_cents == sum(amount for _, amount, _ in entries)
    assert org.held_cents == sum(held for _, _, held in entries)


@pytest.fixture
def fast_carrier(settings):
    """The simulated carrier delivers at once, nothing fails, every area code is supplied."""
    settings.SIMULATED_CARRIER_DELAY_SECONDS = 0
    settings.SIMULATED_CARRIER_FAILURE_RATE = 0
    settings.SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES = []
    return settings


def assert_integrity():
    """After a fault: no number assigned twice or beyond its order, every organization's ledger
    adds up to its balance and held credit, every order charged once for what it got, and no
    order left processing."""
    from django.db.models import Count

    from accounts.models import Organization
    from orders.models import BulkOrder

    for order in BulkOrder.objects.all():
        assert order.status != "processing", f"order {order.id} is stuck in processing"
        got = PhoneNumber.objects.filter(order_id=order.id).count()
        assert got == order.assigned_count <= order.quantity, order.id
        charged = -sum(
            CreditTransaction.objects.filter(order_id=order.id, kind="charge").values_list(
                "amount_cents", flat=True
            )
        )
        assert charged == order.assigned_count * order.unit_price_cents, order.id
    assert not PhoneNumber.objects.values("number").annotate(n=Count("id")).filter(n__gt=1)
    for org in Organization.objects.all():
        assert_ledger_balances(org)


@pytest.fixture
def telnyx(settings):
    """The fake Telnyx on loopback, with this process's carrier settings pointed at it."""
    fake = FakeTelnyx().start()
    settings.CARRIER_BACKEND = "telnyx"
    settings.TELNYX_API_KEY = "KEY-test"
    settings.TELNYX_API_BASE_URL = fake.base_url
    settings.TELNYX_PUBLIC_KEY = fake.public_key_b64()
    settings.TELNYX_TIMEOUT_SECONDS = 2
    yield fake
    fake.stop()
