"""Helpers shared by the owned-number tests (tests/phone_numbers/test_owned_*.py)."""

from django.db import transaction

from phone_numbers.allocation import Routing, claim_listed_numbers
from phone_numbers.models import PhoneNumber
from tests.phone_numbers.conftest import add_numbers


def give(org, *numbers: str, label=None, inbound_url=None) -> dict[str, str]:
    """Put these numbers in inventory and assign them to the organization through allocation
    (no charge: these tests are about owning numbers, not buying them). Returns number -> id."""
    add_numbers(*numbers)
    with transaction.atomic():
        claim_listed_numbers(
            organization_id=org.id,
            numbers=list(numbers),
            routing=Routing(inbound_url=inbound_url, label=label),
        )
    return {n.number: str(n.pk) for n in PhoneNumber.objects.filter(number__in=numbers)}


def number(number_id) -> PhoneNumber:
    return PhoneNumber.objects.get(pk=number_id)
