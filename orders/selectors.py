"""Reads of bulk orders, always scoped to one organization. Their shapes are the output
serializers of orders.serializers."""

from orders.models import BulkOrder
from phone_numbers.models import PhoneNumber


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
    """The organization's backordered bulk orders (give a page of them its numbers with
    with_assigned_numbers)."""
    return BulkOrder.objects.filter(organization=organization, is_backorder=True)
