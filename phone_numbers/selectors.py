"""Reads of inventory and prices."""

from phone_numbers.allocation import Criteria, pattern_condition
from phone_numbers.models import NumberPrice, PhoneNumber


class PriceMissing(LookupError):
    """No price row for a number type: a configuration error (the data migration creates them)."""


def prices_by_type() -> dict[str, int]:
    """Every number type's price in cents, in one query."""
    return dict(NumberPrice.objects.values_list("number_type", "price_cents"))


def price_for(number_type: str) -> int:
    """What one number of this type costs now, in cents."""
    try:
        return NumberPrice.objects.values_list("price_cents", flat=True).get(
            number_type=number_type
        )
    except NumberPrice.DoesNotExist as exc:
        raise PriceMissing(f"no price for number type {number_type!r}") from exc


def available_numbers_search(*, criteria: Criteria, quantity: int) -> list[dict]:
    """Up to `quantity` available numbers matching the criteria, sorted by number. Reserves
    nothing: another request may claim them a moment later. Uses the same matching rules as
    allocation, so a search shows what an order with the same criteria could get."""
    queryset = PhoneNumber.objects.filter(
        state=PhoneNumber.State.AVAILABLE, number_type=criteria.number_type
    )
    if criteria.area_code:
        queryset = queryset.filter(area_code=criteria.area_code)
    if criteria.pattern:
        queryset = queryset.filter(pattern_condition(criteria.pattern))
    # No ORDER BY in SQL: any matching rows will do, and LIMIT lets the scan stop early.
    rows = list(queryset.order_by().values("number", "number_type", "area_code")[:quantity])
    return sorted(rows, key=lambda row: row["number"])
