"""The one way to lock phone-number rows (as accounts.services.lock_organization is for
organizations), so every lock on them is taken in one order.

Lock order, everywhere: the organization first (lock_organization), then its numbers in
primary-key order. Two transactions that lock overlapping numbers then never wait on each other
in opposite orders. Claims by criteria (phone_numbers.allocation.claim_matching_numbers) lock
with SKIP LOCKED inside their one statement instead: they never wait at all."""

from django.db import connection

from phone_numbers.models import PhoneNumber


def lock_numbers(**filters):
    """The phone numbers matching `filters`, locked (SELECT ... FOR UPDATE) in primary-key
    order for the rest of the transaction, as a queryset to read them from."""
    assert connection.in_atomic_block, "lock_numbers needs a transaction"
    return PhoneNumber.objects.select_for_update().filter(**filters).order_by("pk")
