"""Reads of bulk orders, always scoped to one organization. Their shapes are the output
serializers of orders.serializers."""

from dataclasses import dataclass

import structlog
from django.db.models import Count, Min, Q
from django.utils import timezone

from api.errors import ServiceUnavailable
from orders.models import BulkOrder
from phone_numbers.allocation import Criteria, count_matching_available
from phone_numbers.carriers import CarrierError, carrier_can_supply
from phone_numbers.models import PhoneNumber
from phone_numbers.selectors import price_of, prices_by_type

log = structlog.get_logger(__name__)


def with_assigned_numbers(*orders: BulkOrder):
    """Give each order its `assigned_numbers` (sorted), for all of them in one query (a page of
    orders costs one query for their numbers, not one per order). Returns the first order, for
    the common case of one."""
    numbers = {order.id: [] for order in orders}
    rows = PhoneNumber.objects.filter(order_id__in=list(numbers)).order_by("number")
    for order_id, number in rows.values_list("order_id", "number"):
        numbers[order_id].append(number)
    for order in orders:
        order.assigned_numbers = numbers[order.id]
    return orders[0] if orders else None


def bulk_order_get(*, organization, order_id) -> BulkOrder | None:
    """An organization's bulk order with its assigned numbers, or None (unknown or another
    organization's). An order filled at once answers `order_id: null` when placed and is not in
    the list of backorders, but its ledger charge names it, so its id resolves here too (always
    `complete`)."""
    order = BulkOrder.objects.filter(pk=order_id, organization=organization).first()
    return with_assigned_numbers(order) if order else None


def bulk_orders_backordered(*, organization):
    """The organization's bulk orders that answered with their id: backorders, and orders that
    ended partial at once (give a page of them its numbers with with_assigned_numbers)."""
    return BulkOrder.objects.filter(organization=organization).filter(
        Q(is_backorder=True) | Q(status=BulkOrder.Status.PARTIAL)
    )


@dataclass(frozen=True)
class BulkOrderQuote:
    quantity: int
    unit_price_cents: int
    cost_cents: int
    available_cents: int
    available_now: int
    outcome: str


def bulk_order_quote(*, organization, criteria: Criteria, quantity: int, mode: str):
    """What POST /v1/phone-numbers/bulk with this body would do now (API.md §2, quote), in the
    same order of checks: credit for the whole quantity, then inventory, then the carrier's
    capacity for what inventory lacks. Reads only (two queries whatever the quantity: the
    price, and the inventory count capped at `quantity`); `organization` is the one loaded
    with the request. Nothing is locked, so the answer is a forecast: an order placed after it
    may find less. The carrier's capacity is its cached answer (CARRIER_COVERAGE_CACHE_SECONDS);
    when the carrier cannot be asked, ServiceUnavailable, as POST /bulk answers."""
    unit_price = price_of(prices_by_type(), criteria.number_type)
    cost = unit_price * quantity
    available_now = count_matching_available(criteria, limit=quantity)
    partial = mode == BulkOrder.Mode.IMMEDIATE_PARTIAL
    if organization.available_cents < cost:
        outcome = "insufficient_credit"
    elif available_now == quantity:
        outcome = "immediate"
    else:
        # immediate_partial backorders only what inventory lacks; atomic backorders it all.
        shortfall = quantity - available_now if partial else quantity
        # The same cached capacity check as the placement, failing closed the same way (503).
        try:
            supplied = carrier_can_supply(criteria=criteria, quantity=shortfall)
        except CarrierError as exc:
            log.warning("carrier_capacity_check_failed", error=str(exc))
            raise ServiceUnavailable(retry_after=max(5, int(exc.retry_after_seconds or 0))) from exc
        if partial and available_now:
            outcome = "partial_backorder" if supplied else "partial"
        else:
            outcome = "backorder" if supplied else "insufficient_inventory"
    return BulkOrderQuote(
        quantity=quantity,
        unit_price_cents=unit_price,
        cost_cents=cost,
        available_cents=max(organization.available_cents, 0),
        available_now=available_now,
        outcome=outcome,
    )


def processing_orders_summary(now=None) -> tuple[int, float]:
    """(orders processing, age in seconds of the oldest of them, 0 when none): one aggregate
    over the partial index of processing orders, so it costs the same however many orders
    have ended."""
    now = now or timezone.now()
    row = BulkOrder.objects.filter(status=BulkOrder.Status.PROCESSING).aggregate(
        count=Count("id"), oldest=Min("created_at")
    )
    oldest = row["oldest"]
    return row["count"], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
