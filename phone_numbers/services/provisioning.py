"""Numbers a carrier delivered enter inventory here, and only here.

We paid for every number a carrier delivered, so each one becomes an inventory row. Only those
that match the order's whole criteria (type, area code, exchange, digits, features; not only
what the carrier was asked for) go to the order that asked, up to what it still needs; the rest
(a carrier ignoring a filter, one that supports fewer criteria, a surplus, a delivery after the
order ended) stay `available` for anyone to buy.
"""

from dataclasses import dataclass

import structlog
from django.db import connection

from phone_numbers import numbering
from phone_numbers.allocation import FEATURE_COLUMNS, Criteria, Routing, claim_listed_numbers
from phone_numbers.models import PhoneNumber

log = structlog.get_logger(__name__)


def number_matches(number: str, criteria: Criteria, *, features=FEATURE_COLUMNS) -> bool:
    """Whether the E.164 number satisfies the whole criteria (API.md §2.1, the rules of
    allocation.criteria_sql): type, area code, exchange, digits, and `features` (the names of
    the features the number has; a new inventory row has all of them)."""
    parsed = numbering.parse_e164(number)
    if parsed is None or parsed[0] != criteria.number_type:
        return False
    if criteria.area_code and parsed[1] != criteria.area_code:
        return False
    national = number[2:]  # +1 then the 10-digit national number
    if criteria.exchange and national[3:6] != criteria.exchange:
        return False
    if criteria.pattern and criteria.pattern not in national:
        return False
    after = national[3:] if criteria.area_code else national
    if criteria.starts_with and not after.startswith(criteria.starts_with):
        return False
    if criteria.ends_with and not national.endswith(criteria.ends_with):
        return False
    return set(criteria.features) <= set(features)


@dataclass(frozen=True)
class Provisioned:
    assigned: list[str]  # claimed for the order (E.164, sorted)
    to_inventory: list[str]  # new `available` rows
    ignored: list[str]  # not a valid US number, or already in inventory: nothing written


def carrier_numbers_provision(
    *,
    numbers,
    criteria: Criteria,
    organization_id=None,
    order_id=None,
    routing: Routing | None = None,
    wanted: int = 0,
) -> Provisioned:
    """Add carrier-delivered numbers to inventory and claim up to `wanted` of those that match
    `criteria` for the organization's order (wanted=0: nothing is claimed, everything is
    available). Runs inside the caller's transaction with the organization locked (the claim's
    lock order). A number inventory already holds is left as it is; a delivered number that
    does not match is never assigned."""
    assert connection.in_atomic_block, "provisioning runs inside the caller's transaction"
    unique = list(dict.fromkeys(numbers))
    existing = set(PhoneNumber.objects.filter(number__in=unique).values_list("number", flat=True))
    fresh = [n for n in unique if n not in existing and numbering.parse_e164(n)]
    ignored = [n for n in unique if n not in fresh]
    PhoneNumber.objects.bulk_create(
        [
            PhoneNumber(number=n, number_type=parsed[0], area_code=parsed[1])
            for n in fresh
            for parsed in [numbering.parse_e164(n)]
        ]
    )
    matching = [n for n in fresh if number_matches(n, criteria)][: max(wanted, 0)]
    assigned = (
        claim_listed_numbers(
            organization_id=organization_id,
            numbers=matching,
            routing=routing or Routing(),
            order_id=order_id,
        )
        if matching
        else []
    )
    to_inventory = [n for n in fresh if n not in set(assigned)]
    if to_inventory or ignored:
        log.info(
            "carrier_numbers_to_inventory",
            order_id=str(order_id) if order_id else None,
            available=len(to_inventory),
            ignored=ignored[:20],
        )
    return Provisioned(assigned=sorted(assigned), to_inventory=to_inventory, ignored=ignored)
