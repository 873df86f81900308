"""Changes to the numbers an organization owns, short of releasing them (phone_numbers.services
.release)."""

from django.db import transaction
from django.utils import timezone

from api.errors import NotFound
from phone_numbers.models import PhoneNumber

ROUTING_FIELDS = ("inbound_url", "status_url", "label")


def number_update_routing(*, organization_id, number_id, changes: dict) -> PhoneNumber:
    """Change the routing of one of the organization's numbers (PATCH /v1/phone-numbers/{id}).

    `changes` maps some of inbound_url, status_url, label to a new value; `None` or `""`
    clears the field (stored as NULL); a field not in `changes` is left as it is. The callers
    validate the values. Guarantees: one guarded UPDATE, so the number is changed only if it is
    assigned to this organization at that moment; otherwise NotFound and nothing changes.
    Returns the number as stored afterwards."""
    unknown = set(changes) - set(ROUTING_FIELDS)
    if unknown:
        raise ValueError(f"not routing fields: {sorted(unknown)}")
    owned = PhoneNumber.objects.filter(pk=number_id, organization_id=organization_id)
    with transaction.atomic():
        if changes:
            values = {name: value or None for name, value in changes.items()}
            if not owned.update(**values, updated_at=timezone.now()):
                raise NotFound()
        number = owned.first()
    if number is None:
        raise NotFound()
    return number
