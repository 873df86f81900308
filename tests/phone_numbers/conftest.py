import pytest

from phone_numbers.models import PhoneNumber
from phone_numbers.services.inventory import inventory_add, inventory_row


def add_numbers(*numbers: str) -> list[str]:
    """Put these numbers in inventory as available."""
    inventory_add(inventory_row(number) for number in numbers)
    return list(numbers)


def owner_of(number: str):
    return PhoneNumber.objects.get(number=number).organization_id


@pytest.fixture
def inventory(db):
    """Ten local numbers in 415, five in 212 and three toll-free in 800."""
    return add_numbers(
        *[f"+1415555{n:04d}" for n in range(10)],
        *[f"+1212555{n:04d}" for n in range(5)],
        *[f"+1800555{n:04d}" for n in range(3)],
    )
