from api.responses import iso8601
from orders.models import BulkOrder
from phone_numbers.models import PhoneNumber


def bulk_order_data(order: BulkOrder, assigned_numbers: list[str] | None = None) -> dict:
    """A bulk order as `GET /v1/phone-numbers/bulk/{id}` answers it (API.md §2), also the
    `data` of the phone_number.bulk_order.completed webhook event. Pass assigned_numbers when
    the caller already has them, to save a query."""
    if assigned_numbers is None:
        assigned_numbers = assigned_numbers_by_order([order.id])[order.id]
    failed = (
        order.failed_count
        if order.status
        in (
            BulkOrder.Status.PARTIAL,
            BulkOrder.Status.FAILED,
        )
        else None
    )
    return {
        "order_id": str(order.id),
        "status": order.status,
        "quantity": order.quantity,
        "assigned_count": order.assigned_count,
        "pending_count": order.pending_count,
        "failed_count": failed,
        "assigned_numbers": assigned_numbers,
        "label": order.label,
        "created_at": iso8601(order.created_at),
        "completed_at": iso8601(order.completed_at),
    }


def bulk_order_placement_data(order: BulkOrder, assigned_numbers: list[str]) -> dict:
    """The body of POST /v1/phone-numbers/bulk (API.md §2 steps 3 and 4): a filled order
    hides its id (`order_id: null`), a backorder shows the id to poll."""
    return {
        "order_id": str(order.id) if order.is_backorder else None,
        "status": order.status,
        "quantity": order.quantity,
        "assigned_count": order.assigned_count,
        "pending_count": order.pending_count,
        "assigned_numbers": assigned_numbers,
    }


def bulk_order_get(*, organization, order_id) -> BulkOrder | None:
    """An organization's bulk order, or None (unknown or another organization's). An order
    filled at once answers `order_id: null` when placed and is not in the list of backorders,
    but its ledger charge names it, so its id resolves here too (always `complete`)."""
    return BulkOrder.objects.filter(pk=order_id, organization=organization).first()


def bulk_orders_backordered(*, organization):
    """The organization's backordered bulk orders."""
    return BulkOrder.objects.filter(organization=organization, is_backorder=True)


def assigned_numbers_by_order(order_ids) -> dict:
    """The numbers each of these orders assigned, sorted, in one query (a page of orders costs
    one query for all their numbers, not one per order)."""
    numbers = {order_id: [] for order_id in order_ids}
    rows = PhoneNumber.objects.filter(order_id__in=order_ids).order_by("number")
    for order_id, number in rows.values_list("order_id", "number"):
        numbers[order_id].append(number)
    return numbers


def bulk_orders_data(orders) -> list[dict]:
    """bulk_order_data for a page of orders, with one query for all their numbers."""
    numbers = assigned_numbers_by_order([order.id for order in orders])
    return [bulk_order_data(order, numbers[order.id]) for order in orders]
