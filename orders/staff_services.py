"""What staff do to bulk orders from the back office: orders.services, audited
(accounts.StaffAction) in the same transaction."""

from django.db import transaction

from accounts.audit import Action, record_staff_action
from accounts.models import CreditTransaction
from orders import services
from orders.models import BulkOrder


@transaction.atomic
def staff_order_close(*, user, order_id, reason: str) -> BulkOrder:
    """bulk_order_cancel on behalf of staff (the remainder fails, its hold is released, the
    webhook fires, ended_by staff) with the staff user named in the order's close reason, and an
    audit row. Raises ValueError without a reason, and what bulk_order_cancel raises
    (OrderNotProcessing, NotFound), writing nothing."""
    if not reason.strip():
        raise ValueError("closing an order needs a reason")
    order = services.bulk_order_cancel(
        organization_id=None,
        order_id=order_id,
        by=BulkOrder.EndedBy.STAFF,
        reason=f"{reason.strip()} ({user})",
    )
    released = sum(
        -line.held_change_cents
        for line in CreditTransaction.objects.filter(
            order_id=order.pk, kind=CreditTransaction.Kind.RELEASE
        )
    )
    record_staff_action(
        user=user,
        action=Action.ORDER_CLOSE,
        target=order,
        reason=reason.strip(),
        details={
            "status": order.status,
            "assigned_count": order.assigned_count,
            "failed_count": order.failed_count,
            "released_cents": released,
        },
    )
    return order


@transaction.atomic
def staff_order_retry(*, user, order_id) -> bool:
    """bulk_order_retry (fulfilment enqueued after commit), audited. False, and no audit row,
    if the order is not processing."""
    if not services.bulk_order_retry(order_id=order_id):
        return False
    order = BulkOrder.objects.get(pk=order_id)
    record_staff_action(user=user, action=Action.ORDER_RETRY, target=order)
    return True
