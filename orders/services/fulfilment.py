"""Filling a backorder: claims from inventory and carrier placements, step by step
(bulk_order_fulfil), and cancelling what is pending at the carrier (carrier_orders_cancel).

A placement (CarrierOrder) moves intent -> placed -> complete | partial | failed | cancelled.
No carrier call ever runs inside a transaction: the intent is committed first, the call runs
with no lock held, and its answer is recorded in a second transaction under the locks."""

from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.services import credit_charge_held, lock_organization
from orders.models import BulkOrder, CarrierOrder
from orders.services.lifecycle import (
    criteria_of,
    enqueue_carrier_cancel,
    enqueue_fulfilment,
    finish,
    routing_of,
)
from phone_numbers.allocation import claim_matching_numbers
from phone_numbers.carriers import CarrierError, CarrierRejected, carrier_can_supply, get_carrier
from phone_numbers.services.provisioning import carrier_numbers_provision

log = structlog.get_logger(__name__)
Status = BulkOrder.Status
EndedBy = BulkOrder.EndedBy


_AGAIN = object()  # a step made progress; take the next one now
MAX_POLL_SECONDS = 60


def _lock_order(order_id):
    """(organization, order) locked in that order whatever the order's status, or None when the
    order is unknown. A placement of an order that ended may still deliver: that delivery is
    applied under the same locks."""
    organization_id = (
        BulkOrder.objects.filter(pk=order_id).values_list("organization_id", flat=True).first()
    )
    if organization_id is None:
        return None
    organization = lock_organization(organization_id)
    return organization, BulkOrder.objects.select_for_update().get(pk=order_id)


def _lock_processing_order(order_id):
    """(organization, order) locked in that order, or None when the order is unknown or
    already terminal."""
    locked = _lock_order(order_id)
    if locked is None or locked[1].is_terminal:
        return None
    return locked


def _record_assigned(*, organization, order: BulkOrder, numbers: list[str], source: str) -> None:
    """Count numbers just claimed for the order and turn their share of the hold into a charge.
    The order and organization are locked by the caller."""
    if not numbers:
        return
    count = len(numbers)
    BulkOrder.objects.filter(pk=order.pk).update(
        assigned_count=F("assigned_count") + count, progressed_at=timezone.now()
    )
    order.refresh_from_db(fields=["assigned_count", "progressed_at"])
    credit_charge_held(
        organization=organization,
        cents=count * order.unit_price_cents,
        order_id=order.id,
        note=f"{count} numbers from {source}, bulk order {order.id}",
    )


def _deadline_passed(order: BulkOrder) -> bool:
    return order.fill_by is not None and order.fill_by <= timezone.now()


def _end_by_deadline(*, organization, order: BulkOrder) -> bool:
    """End the order as its fill_by deadline does; what is pending at the carrier is cancelled
    there after commit."""
    ended = finish(
        organization=organization,
        order=order,
        ended_by=EndedBy.DEADLINE,
        reason="fill_by deadline passed",
        cancelled=True,
    )
    if ended:
        enqueue_carrier_cancel(order.id)
    return ended


def _poll_delay(placement: CarrierOrder) -> float:
    """Back off while a carrier works: about a quarter of the placement's age, 1 s to 60 s."""
    age = (timezone.now() - (placement.placed_at or placement.created_at)).total_seconds()
    return min(max(age / 4, 1.0), MAX_POLL_SECONDS)


def _send_lease_seconds() -> float:
    # Longer than one bounded carrier call (the lookup and the placement), so a live sender is
    # never overtaken; a dead one's lease lapses and another worker takes over.
    return 2 * float(getattr(settings, "TELNYX_TIMEOUT_SECONDS", 10)) + 5


def _placement_error(placement: CarrierOrder, message: str) -> None:
    CarrierOrder.objects.filter(pk=placement.pk).update(
        last_error=message[:1000], updated_at=timezone.now()
    )


def _placement_create(*, order: BulkOrder, sequence: int) -> CarrierOrder:
    """Record the intent to place the order's pending count at the carrier (order locked)."""
    placement = CarrierOrder.objects.create(
        bulk_order=order,
        sequence=sequence,
        carrier=settings.CARRIER_BACKEND,
        customer_reference=f"{order.id}:{sequence}",
        requested_count=order.pending_count,
    )
    BulkOrder.objects.filter(pk=order.pk).update(progressed_at=timezone.now())
    log.info(
        "carrier_order_intent",
        order_id=str(order.id),
        customer_reference=placement.customer_reference,
        quantity=placement.requested_count,
    )
    return placement


def _placement_send(carrier, placement: CarrierOrder):
    """Get the intent to the carrier exactly once. Claims the send by compare-and-set (one
    sender at a time), commits that claim, then — with no lock held — looks the order up by
    reference if any earlier send began (it may have reached the carrier), and places it only
    when the carrier does not have it. The carrier's id is recorded in a second transaction."""
    now = timezone.now()
    claimed = (
        CarrierOrder.objects.filter(pk=placement.pk, status=CarrierOrder.Status.INTENT)
        .filter(Q(send_lease_until__isnull=True) | Q(send_lease_until__lt=now))
        .update(
            attempts=F("attempts") + 1,
            send_lease_until=now + timedelta(seconds=_send_lease_seconds()),
            updated_at=now,
        )
    )
    if not claimed:  # another worker is sending it; see what it recorded in a moment
        return 2.0
    placement.refresh_from_db()
    order = BulkOrder.objects.get(pk=placement.bulk_order_id)
    carrier_order_id = None
    try:
        if placement.attempts > 1:
            carrier_order_id = carrier.find_order(customer_reference=placement.customer_reference)
            if carrier_order_id:
                log.warning(
                    "carrier_order_found_by_reference",
                    customer_reference=placement.customer_reference,
                    carrier_order_id=carrier_order_id,
                )
        if carrier_order_id is None and order.is_terminal:
            # The order ended before this placement reached the carrier: never send it now.
            CarrierOrder.objects.filter(pk=placement.pk, status=CarrierOrder.Status.INTENT).update(
                status=CarrierOrder.Status.CANCELLED, completed_at=timezone.now()
            )
            return _AGAIN
        if carrier_order_id is None:
            carrier_order_id = carrier.place_order(
                criteria=carrier.carrier_criteria(criteria_of(order)),
                quantity=placement.requested_count,
                customer_reference=placement.customer_reference,
            )
    except CarrierRejected as rejected:
        _placement_rejected(placement, rejected.detail)
        return _AGAIN
    except CarrierError as exc:
        _placement_error(placement, str(exc))
        CarrierOrder.objects.filter(pk=placement.pk).update(send_lease_until=None)
        raise
    recorded = CarrierOrder.objects.filter(
        pk=placement.pk, status=CarrierOrder.Status.INTENT
    ).update(
        status=CarrierOrder.Status.PLACED,
        carrier_order_id=carrier_order_id,
        placed_at=timezone.now(),
        send_lease_until=None,
        last_error="",
        updated_at=timezone.now(),
    )
    if recorded:
        BulkOrder.objects.filter(pk=order.pk).update(progressed_at=timezone.now())
        log.info(
            "carrier_order_placed",
            order_id=str(order.id),
            customer_reference=placement.customer_reference,
            carrier_order_id=carrier_order_id,
        )
    return _AGAIN


def _placement_rejected(placement: CarrierOrder, detail: str) -> None:
    """The carrier refused the placement: it fails, and so does the rest of the order (the
    same request would be refused again, so no top-up is tried)."""
    with transaction.atomic():
        locked = _lock_order(placement.bulk_order_id)
        if locked is None:
            return
        organization, order = locked
        ended = CarrierOrder.objects.filter(pk=placement.pk, status__in=CarrierOrder.OPEN).update(
            status=CarrierOrder.Status.FAILED,
            last_error=detail[:1000],
            send_lease_until=None,
            completed_at=timezone.now(),
            updated_at=timezone.now(),
        )
        log.warning(
            "carrier_order_rejected",
            order_id=str(order.id),
            customer_reference=placement.customer_reference,
            detail=detail,
        )
        if ended and not order.is_terminal:
            finish(
                organization=organization,
                order=order,
                ended_by=EndedBy.CARRIER,
                reason=f"carrier refused: {detail}",
            )


def _placement_check(carrier, placement: CarrierOrder):
    """Ask the carrier (no lock held) and apply its answer under the locks: still pending ->
    when to ask again; finished -> its numbers into inventory, those that match what was asked
    assigned to the order while it is processing, the placement ended."""
    try:
        status = carrier.check_order(placement.carrier_order_id)
    except CarrierRejected as rejected:
        _placement_rejected(placement, rejected.detail)
        return _AGAIN
    except CarrierError as exc:
        _placement_error(placement, str(exc))
        raise
    with transaction.atomic():
        locked = _lock_order(placement.bulk_order_id)
        if locked is None:
            return None
        organization, order = locked
        placement = CarrierOrder.objects.select_for_update().get(pk=placement.pk)
        if placement.status != CarrierOrder.Status.PLACED:
            return _AGAIN  # another worker applied it
        if not order.is_terminal and _deadline_passed(order):
            # A delivery after fill_by goes to inventory, like any delivery after the end.
            _end_by_deadline(organization=organization, order=order)
        now = timezone.now()
        if status.pending:
            CarrierOrder.objects.filter(pk=placement.pk).update(
                sub_order_ids=list(status.sub_order_ids), last_error="", updated_at=now
            )
            if not order.is_terminal:
                BulkOrder.objects.filter(pk=order.pk).update(progressed_at=now)
            if status.retry_after_seconds is not None:
                return status.retry_after_seconds
            return _poll_delay(placement)
        wanted = 0 if order.is_terminal else min(order.pending_count, placement.requested_count)
        provisioned = carrier_numbers_provision(
            numbers=status.numbers,
            # The whole criteria, not only what the carrier was asked: a number that misses
            # any of them goes to inventory, never to the order.
            criteria=criteria_of(order),
            organization_id=organization.id,
            order_id=order.id,
            routing=routing_of(order),
            wanted=wanted,
        )
        _record_assigned(
            organization=organization, order=order, numbers=provisioned.assigned, source="carrier"
        )
        delivered = len(status.numbers)
        if delivered >= placement.requested_count:
            ended = CarrierOrder.Status.COMPLETE
        elif order.is_terminal:
            ended = CarrierOrder.Status.CANCELLED
        elif delivered:
            ended = CarrierOrder.Status.PARTIAL
        else:
            ended = CarrierOrder.Status.FAILED
        CarrierOrder.objects.filter(pk=placement.pk).update(
            status=ended,
            numbers=list(status.numbers),
            allocated_count=delivered,
            assigned_count=len(provisioned.assigned),
            sub_order_ids=list(status.sub_order_ids),
            completed_at=now,
            updated_at=now,
            last_error="",
        )
        log.info(
            "carrier_order_finished",
            order_id=str(order.id),
            customer_reference=placement.customer_reference,
            status=ended,
            delivered=delivered,
            assigned=len(provisioned.assigned),
            to_inventory=len(provisioned.to_inventory),
        )
        if not order.is_terminal and order.pending_count == 0:
            finish(organization=organization, order=order, ended_by=EndedBy.CARRIER)
            return None
        return _AGAIN


def _next_placement(order_id):
    """No placement is open: top up from inventory, then end the order or record the next
    placement's intent. A top-up placement (not the first) follows a fresh capacity check,
    asked with no lock held; CARRIER_MAX_PLACEMENTS bounds them."""
    with transaction.atomic():
        locked = _lock_processing_order(order_id)
        if locked is None:
            return None
        organization, order = locked
        if order.carrier_orders.filter(status__in=CarrierOrder.OPEN).exists():
            return _AGAIN  # another worker recorded one meanwhile
        if _deadline_passed(order):  # never claim or place past fill_by
            _end_by_deadline(organization=organization, order=order)
            return None
        numbers = claim_matching_numbers(
            organization_id=organization.id,
            criteria=criteria_of(order),
            quantity=order.pending_count,
            routing=routing_of(order),
            order_id=order.id,
            all_or_nothing=False,
        )
        _record_assigned(
            organization=organization, order=order, numbers=numbers, source="inventory"
        )
        placed = order.carrier_orders.count()
        if order.pending_count == 0 or placed >= settings.CARRIER_MAX_PLACEMENTS:
            finish(organization=organization, order=order, ended_by=EndedBy.CARRIER)
            return None
        if placed == 0:  # capacity was checked when the order was placed
            _placement_create(order=order, sequence=1)
            return _AGAIN
        pending = order.pending_count
        criteria = criteria_of(order)
    can_supply = carrier_can_supply(criteria=criteria, quantity=pending, fresh=True)
    with transaction.atomic():
        locked = _lock_processing_order(order_id)
        if locked is None:
            return None
        organization, order = locked
        if order.carrier_orders.count() != placed or order.pending_count != pending:
            return _AGAIN  # someone moved it on meanwhile: decide again
        if _deadline_passed(order):  # the capacity check ran past fill_by: no top-up
            _end_by_deadline(organization=organization, order=order)
            return None
        if not can_supply:
            finish(
                organization=organization,
                order=order,
                ended_by=EndedBy.CARRIER,
                reason="carrier cannot supply the rest",
            )
            return None
        _placement_create(order=order, sequence=placed + 1)
        return _AGAIN


def _end_if_overdue(order_id) -> None:
    """End a processing order whose fill_by passed (under the locks), so that no intent of it
    is sent and no delivery reaches it after its deadline."""
    if not BulkOrder.objects.filter(
        pk=order_id, status=Status.PROCESSING, fill_by__lte=timezone.now()
    ).exists():
        return
    with transaction.atomic():
        locked = _lock_processing_order(order_id)
        if locked is not None and _deadline_passed(locked[1]):
            _end_by_deadline(organization=locked[0], order=locked[1])


def _fulfil_step(carrier, order_id):
    _end_if_overdue(order_id)
    placement = (
        CarrierOrder.objects.filter(bulk_order_id=order_id, status__in=CarrierOrder.OPEN)
        .select_related("bulk_order")
        .order_by("sequence")
        .first()
    )
    if placement is None:
        return _next_placement(order_id)
    if placement.status == CarrierOrder.Status.INTENT:
        return _placement_send(carrier, placement)
    return _placement_check(carrier, placement)


def bulk_order_fulfil(*, order_id) -> float | None:
    """Advance a backordered order as far as it can go now. Returns the number of seconds after
    which to call again (the carrier is still working), or None when there is nothing left to
    do (the order ended and no placement of it is open, or it is unknown).

    Guarantees: every database step runs in a short transaction with the organization and the
    order locked and starts from the rows as stored, so it is safe to call twice or
    concurrently; no carrier call runs inside a transaction; a placement is committed as an
    intent before it is sent and looked up by reference before it is sent again, so the
    carrier never gets it twice; numbers are claimed only through phone_numbers (never twice);
    each assigned number converts exactly its price from the hold into a charge; the order
    ends once. An order whose fill_by passed ends as a cancel ends it (ended_by deadline), and
    no placement is sent or topped up after that. A placement still open after the order ended
    (cancel, staff, deadline) is followed to its end, and what it delivers goes into inventory
    as available, never to the order or the ledger. Raises CarrierError (transient) for the
    task to retry.
    """
    carrier = get_carrier()
    # Each step moves a placement or the order on; the bound only guards against a bug.
    for _ in range(4 * settings.CARRIER_MAX_PLACEMENTS + 4):
        result = _fulfil_step(carrier, order_id)
        if result is not _AGAIN:
            return result
    return 1.0


def carrier_orders_cancel(*, order_id) -> int:
    """Cancel at the carrier what is still pending of the order's open placements (Telnyx:
    its pending sub orders), and enqueue fulfilment so whatever they delivered meanwhile is
    applied (for an ended order: into inventory, never to the order). A placement that never
    reached the carrier is cancelled here and will never be sent. Returns how many parts the
    carrier cancelled. Calls the carrier with no lock held; safe to call again. Raises
    CarrierError (transient) for the caller to retry."""
    CarrierOrder.objects.filter(
        bulk_order_id=order_id, status=CarrierOrder.Status.INTENT, attempts=0
    ).update(status=CarrierOrder.Status.CANCELLED, completed_at=timezone.now())
    carrier = get_carrier()
    cancelled = 0
    for placement in CarrierOrder.objects.filter(
        bulk_order_id=order_id, status=CarrierOrder.Status.PLACED
    ):
        try:
            cancelled += carrier.cancel_order(placement.carrier_order_id)
        except CarrierRejected as rejected:  # e.g. unknown at the carrier: nothing to cancel
            _placement_error(placement, f"cancel refused: {rejected.detail}")
    log.info("carrier_orders_cancelled", order_id=str(order_id), cancelled=cancelled)
    with transaction.atomic():
        enqueue_fulfilment(order_id)
    return cancelled
