"""What every step of a bulk order shares: its criteria and routing as placed, the hand-off
to the fulfilment tasks (after commit), and the one way an order ends (finish)."""

import structlog
from django.db import transaction
from django.utils import timezone

from accounts.services import credit_release
from api import metrics
from orders import signals
from orders.models import BulkOrder
from phone_numbers.allocation import Criteria, Routing

log = structlog.get_logger(__name__)
Status = BulkOrder.Status


def routing_of(order: BulkOrder) -> Routing:
    return Routing(inbound_url=order.inbound_url, status_url=order.status_url, label=order.label)


CRITERIA_FIELDS = ("number_type", "area_code", "exchange", "pattern", "starts_with", "ends_with")


def criteria_of(order: BulkOrder) -> Criteria:
    """The order's criteria as placed: fulfilment claims with exactly what the order asked."""
    return Criteria(
        **{name: getattr(order, name) for name in CRITERIA_FIELDS},
        features=tuple(order.features or ()),
    )


def enqueue_fulfilment(order_id) -> None:
    from orders.tasks import fulfil_bulk_order  # tasks import services: import late

    # robust: the order has committed by now, so a broker outage must not turn it into an error
    # answer (and a client's retry into a second order). The message is lost; the stalled-order
    # sweeper resumes the order after BULK_ORDER_STALL_SECONDS.
    transaction.on_commit(lambda: fulfil_bulk_order.delay(str(order_id)), robust=True)


def enqueue_carrier_cancel(order_id) -> None:
    from orders.tasks import cancel_carrier_orders  # tasks import services: import late

    transaction.on_commit(lambda: cancel_carrier_orders.delay(str(order_id)), robust=True)


def finish(
    *, organization, order: BulkOrder, ended_by: str, reason: str = "", cancelled: bool = False
) -> bool:
    """End a processing order: whatever is still pending fails, its hold is released, who ended
    it is recorded (with cancelled_at when it was ended early), and the completion webhook is
    announced. The compare-and-set on status is what makes this happen once: every way an order
    ends (fulfilment, cancel, staff, deadline) comes through here, and only the first one
    updates the row. False when another got there first."""
    failed = order.pending_count + order.failed_count
    if order.assigned_count == order.quantity:
        status = Status.COMPLETE
    elif order.assigned_count:
        status = Status.PARTIAL
    else:
        status = Status.FAILED
    now = timezone.now()
    ended = BulkOrder.objects.filter(pk=order.pk, status=Status.PROCESSING).update(
        status=status,
        failed_count=failed,
        completed_at=now,
        progressed_at=now,
        updated_at=now,
        close_reason=reason[:500],
        ended_by=ended_by,
        cancelled_at=now if cancelled else None,
    )
    if not ended:  # another process got there first
        return False
    order.refresh_from_db()
    released = order.failed_count * order.unit_price_cents
    if released:
        credit_release(
            organization=organization,
            cents=released,
            order_id=order.id,
            note=f"{order.failed_count} numbers not supplied, bulk order {order.id}",
        )
    signals.bulk_order_finished.send(sender=BulkOrder, order=order)
    # Counted once the end is committed: a rolled-back step did not end the order.
    transaction.on_commit(lambda: _count_finished(order))
    log.info(
        "bulk_order_finished",
        order_id=str(order.id),
        status=order.status,
        assigned=order.assigned_count,
        failed=order.failed_count,
        ended_by=ended_by,
    )
    return True


def _count_finished(order: BulkOrder) -> None:
    metrics.BULK_ORDERS_FINISHED.labels(status=order.status).inc()
    metrics.BULK_ORDER_FULFILMENT_DURATION.labels(status=order.status).observe(
        max((order.completed_at - order.created_at).total_seconds(), 0)
    )
