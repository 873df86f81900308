import pytest

from accounts.models import CreditTransaction
from phone_numbers.models import NumberPrice, PhoneNumber


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


@pytest.fixture
def number_prices(transactional_db):
    """Transactional tests flush the database, data migrations included: put the default
    prices back."""
    for number_type, cents in (("local", 100), ("toll_free", 200)):
        NumberPrice.objects.get_or_create(number_type=number_type, defaults={"price_cents": cents})
