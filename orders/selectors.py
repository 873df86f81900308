from orders.models import BulkOrder


def bulk_order_data(order: BulkOrder, assigned_numbers: list[str] | None = None) -> dict:
    """A bulk order as `GET /v1/phone-numbers/bulk/{id}` answers it (API.md §2), also the
    `data` of the phone_number.bulk_order.completed webhook event. Pass assigned_numbers when
    the caller already has them, to save a query."""
    if assigned_numbers is None:
        assigned_numbers = sorted(order.phone_numbers.values_list("number", flat=True))
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
        "created_at": order.created_at.isoformat().replace("+00:00", "Z"),
        "completed_at": (
            order.completed_at.isoformat().replace("+00:00", "Z") if order.completed_at else None
        ),
    }
