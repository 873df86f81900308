"""Moving orders on from outside fulfilment: the client's, staff's and the deadline's cancel,
the sweepers (overdue and stalled orders), a staff retry, and a carrier's signed push."""

from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.services import lock_organization
from api.errors import NotFound, OrderNotProcessing
from orders.models import BulkOrder, CarrierOrder, CarrierWebhookEvent
from orders.services.lifecycle import (
    enqueue_carrier_cancel,
    enqueue_fulfilment,
    finish,
)

log = structlog.get_logger(__name__)
Status = BulkOrder.Status
EndedBy = BulkOrder.EndedBy


CANCEL_REASONS = {
    EndedBy.CLIENT: "cancelled by the client",
    EndedBy.DEADLINE: "fill_by deadline passed",
}


@transaction.atomic
def bulk_order_cancel(*, organization_id, order_id, by: str, reason: str = "") -> BulkOrder:
    """End a processing order now, on behalf of `by` (EndedBy: the client, staff, or the
    deadline sweeper; organization_id None means the order's own, for staff and the sweeper).

    Guarantees: numbers already assigned stay assigned and charged; the rest fails and its hold
    is released; cancelled_at, ended_by and the reason are recorded; the completion webhook is
    announced; all in this transaction, exactly once, whatever runs at the same time (the
    compare-and-set of finish decides between this and fulfilment's own end). Raises NotFound
    for an unknown order or another organization's, OrderNotProcessing (with its status) if it
    already ended, changing nothing. After commit, the order's pending carrier sub-orders are
    cancelled at the carrier (carrier_orders_cancel); a carrier delivery that arrives anyway
    goes to inventory (bulk_order_fulfil). Returns the order as stored.
    """
    owner = BulkOrder.objects.filter(pk=order_id).values_list("organization_id", flat=True).first()
    if owner is None or (organization_id is not None and owner != organization_id):
        raise NotFound()
    organization = lock_organization(owner)
    order = BulkOrder.objects.select_for_update().get(pk=order_id)
    ended = finish(
        organization=organization,
        order=order,
        ended_by=by,
        reason=reason or CANCEL_REASONS.get(by, ""),
        cancelled=True,
    )
    if not ended:
        order.refresh_from_db(fields=["status"])
        raise OrderNotProcessing(status=order.status)
    # After commit: whoever ended it, what is still pending at the carrier is cancelled there.
    enqueue_carrier_cancel(order.id)
    return order


def bulk_orders_end_overdue(*, now=None) -> list[str]:
    """End every processing order whose fill_by has passed, as a cancel ends it (ended_by
    deadline). Each order in its own transaction; one that ended meanwhile is skipped. Safe to
    run concurrently (bulk_order_cancel ends an order once)."""
    now = now or timezone.now()
    overdue = BulkOrder.objects.filter(status=Status.PROCESSING, fill_by__lte=now).values_list(
        "id", flat=True
    )[:500]
    ended = []
    for order_id in overdue:
        try:
            bulk_order_cancel(organization_id=None, order_id=order_id, by=EndedBy.DEADLINE)
        except OrderNotProcessing:
            continue
        ended.append(str(order_id))
    if ended:
        log.info("bulk_orders_deadline_passed", order_ids=ended)
    return ended


def bulk_order_retry(*, order_id) -> bool:
    """Enqueue fulfilment of a processing order now (after commit). False if it already
    ended. Safe to call any number of times: fulfilment is idempotent."""
    with transaction.atomic():
        if not BulkOrder.objects.filter(pk=order_id, status=Status.PROCESSING).exists():
            return False
        enqueue_fulfilment(order_id)
    return True


def bulk_orders_resume_stalled(*, stalled_for: timedelta | None = None) -> list[str]:
    """Re-enqueue fulfilment of processing orders that made no progress for `stalled_for`
    (default settings.BULK_ORDER_STALL_SECONDS), e.g. because a message was lost. Each resume
    moves progressed_at forward by compare-and-set, so a stalled order is resumed once per
    stall period however many sweepers run."""
    if stalled_for is None:
        stalled_for = timedelta(seconds=settings.BULK_ORDER_STALL_SECONDS)
    now = timezone.now()
    stalled = BulkOrder.objects.filter(
        status=Status.PROCESSING, progressed_at__lt=now - stalled_for
    ).values_list("id", "progressed_at")[:500]
    resumed = []
    for order_id, progressed_at in stalled:
        with transaction.atomic():
            claimed = BulkOrder.objects.filter(
                pk=order_id, status=Status.PROCESSING, progressed_at=progressed_at
            ).update(progressed_at=now)
            if claimed:
                enqueue_fulfilment(order_id)
                resumed.append(str(order_id))
    # Placements still open after their order ended (closed or cancelled while the carrier
    # worked): followed until they finish, so what they deliver reaches inventory.
    lingering = (
        CarrierOrder.objects.filter(status__in=CarrierOrder.OPEN, updated_at__lt=now - stalled_for)
        .exclude(bulk_order__status=Status.PROCESSING)
        .values_list("id", "bulk_order_id", "updated_at")[:500]
    )
    for placement_id, order_id, updated_at in lingering:
        with transaction.atomic():
            claimed = CarrierOrder.objects.filter(pk=placement_id, updated_at=updated_at).update(
                updated_at=now
            )
            if claimed:
                enqueue_fulfilment(order_id)
                resumed.append(str(order_id))
    if resumed:
        log.warning("bulk_orders_resumed", order_ids=resumed)
    return resumed


def carrier_webhook_apply(*, carrier: str, event_id: str, event_type: str, payload: dict) -> bool:
    """Apply a carrier's verified push once per event id: find the placement it is about (by
    our customer_reference, else by the carrier's order or sub-order ids) and enqueue that
    order's fulfilment now. Polling stays the source of truth: the push only makes the next
    check happen at once, and changes nothing else. Returns False for a replayed event (nothing
    is done) and True otherwise, also when the event is about no order of ours."""
    reference = str(payload.get("customer_reference") or "")
    ids = {str(payload.get("id") or "")} | {
        str(sub) for sub in payload.get("sub_number_orders_ids") or [] if sub
    }
    ids.discard("")
    with transaction.atomic():
        _, created = CarrierWebhookEvent.objects.get_or_create(
            carrier=carrier, event_id=event_id, defaults={"event_type": event_type[:100]}
        )
        if not created:
            log.info("carrier_webhook_replayed", carrier=carrier, event_id=event_id)
            return False
        placement = CarrierOrder.objects.filter(customer_reference=reference).first()
        if placement is None and ids:
            open_placements = CarrierOrder.objects.filter(
                carrier=carrier, status__in=CarrierOrder.OPEN
            ).order_by("-created_at")[:1000]
            placement = next(
                (
                    p
                    for p in open_placements
                    if p.carrier_order_id in ids or ids & set(p.sub_order_ids or [])
                ),
                None,
            )
        if placement is None:
            log.info("carrier_webhook_unmatched", carrier=carrier, event_id=event_id)
            return True
        CarrierWebhookEvent.objects.filter(carrier=carrier, event_id=event_id).update(
            bulk_order_id=placement.bulk_order_id
        )
        enqueue_fulfilment(placement.bulk_order_id)
    log.info(
        "carrier_webhook_applied",
        carrier=carrier,
        event_id=event_id,
        order_id=str(placement.bulk_order_id),
    )
    return True
