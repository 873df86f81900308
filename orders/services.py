"""Every write to bulk orders (API.md §2, POST /v1/phone-numbers/bulk and its fulfilment).

How an order moves:

    bulk_order_place  --(inventory has them all)-->  complete (charged, order_id hidden)
           |
           +--(immediate_partial: inventory has k, carrier cannot supply the rest)-->
           |       partial at once (k charged, the rest failed, nothing held)
           |
           +--(carrier can supply the shortfall)--> processing: what was assigned at once
                  (immediate_partial) charged, the rest held, fulfilment enqueued
                                          |
    bulk_order_fulfil: claim from inventory, order the rest from the carrier, assign what it
                       delivers -> complete | partial | failed, unused hold released
    bulk_order_cancel: the client, staff or the fill_by deadline end it early -> the
                       remainder fails, its hold released; a later carrier delivery goes to
                       inventory, never to the order

Locks are always taken in the same order: organization, then the order row, then numbers (inside
phone_numbers.allocation). Every step of fulfilment runs with the organization and the order
locked and re-reads the order, so a task delivered twice, or run by two workers at once, sees
the other's work and never assigns or charges twice. The terminal transition is a
compare-and-set on status, so an order ends exactly once.
"""

from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.services import (
    credit_charge,
    credit_charge_held,
    credit_hold,
    credit_release,
    ensure_available_credit,
    lock_organization,
)
from api import metrics
from api.errors import InsufficientCredit, InsufficientInventory, NotFound, OrderNotProcessing
from orders import signals
from orders.models import BulkOrder
from phone_numbers import numbering
from phone_numbers.allocation import (
    Criteria,
    NotEnoughNumbers,
    Routing,
    claim_listed_numbers,
    claim_matching_numbers,
    count_matching_available,
)
from phone_numbers.carriers import get_carrier
from phone_numbers.models import PhoneNumber
from phone_numbers.selectors import price_of, prices_by_type
from phone_numbers.services.inventory import numbers_provision

log = structlog.get_logger(__name__)
Status = BulkOrder.Status
Mode = BulkOrder.Mode
EndedBy = BulkOrder.EndedBy


def routing_of(order: BulkOrder) -> Routing:
    return Routing(inbound_url=order.inbound_url, status_url=order.status_url, label=order.label)


def insufficient_inventory(shortfall: NotEnoughNumbers) -> InsufficientInventory:
    """The 409 of either sale: how many matching numbers inventory holds, and on explicit
    orders which of the listed ones are not available."""
    details = {"available_count": shortfall.available_count}
    if shortfall.unavailable_numbers is not None:
        details["unavailable_numbers"] = shortfall.unavailable_numbers
    return InsufficientInventory(details=details)


CRITERIA_FIELDS = ("number_type", "area_code", "exchange", "pattern", "starts_with", "ends_with")


def criteria_of(order: BulkOrder) -> Criteria:
    """The order's criteria as placed: fulfilment claims with exactly what the order asked."""
    return Criteria(
        **{name: getattr(order, name) for name in CRITERIA_FIELDS},
        features=tuple(order.features or ()),
    )


@transaction.atomic
def listed_order_place(
    *, organization_id, numbers: list[str], routing: Routing | None = None
) -> list[PhoneNumber]:
    """Assign exactly these numbers to the organization and charge their price, all or nothing,
    in one transaction (API.md §2 POST /v1/phone-numbers/orders).

    Guarantees, in this order: the organization is locked (before any number, so lock order is
    always organization then numbers); the cost is the sum of current prices and is checked
    against available credit before anything is claimed (402 InsufficientCredit, nothing
    claimed); the numbers are locked and claimed all or none (409 InsufficientInventory with
    details.available_count and details.unavailable_numbers, nothing claimed); the charge is
    one ledger line naming the numbers. Any failure rolls the whole transaction back: no number
    assigned, no credit moved. Returns the assigned numbers sorted by number."""
    routing = routing or Routing()
    numbers = sorted(set(numbers))
    prices = prices_by_type()
    cost = 0
    for number in numbers:
        parsed = numbering.parse_e164(number)
        if parsed is None:
            raise ValueError(f"not a valid number: {number!r}")  # callers validate first
        cost += price_of(prices, parsed[0])

    organization = lock_organization(organization_id)
    ensure_available_credit(organization, cost)
    try:
        claim_listed_numbers(organization_id=organization_id, numbers=numbers, routing=routing)
    except NotEnoughNumbers as shortfall:
        raise insufficient_inventory(shortfall) from shortfall
    credit_charge(
        organization=organization,
        cents=cost,
        note=_charge_note(numbers),
    )
    return list(PhoneNumber.objects.filter(number__in=numbers).order_by("number"))


def _charge_note(numbers: list[str]) -> str:
    # The ledger note is at most 500 characters: 100 numbers do not fit, so name the first ones.
    head = ", ".join(numbers[:25])
    more = f" and {len(numbers) - 25} more" if len(numbers) > 25 else ""
    return f"{len(numbers)} number(s): {head}{more}"


def _enqueue_fulfilment(order_id) -> None:
    from orders.tasks import fulfil_bulk_order  # tasks import services: import late

    # robust: the order has committed by now, so a broker outage must not turn it into an error
    # answer (and a client's retry into a second order). The message is lost; the stalled-order
    # sweeper resumes the order after BULK_ORDER_STALL_SECONDS.
    transaction.on_commit(lambda: fulfil_bulk_order.delay(str(order_id)), robust=True)


@transaction.atomic
def bulk_order_place(
    *,
    organization_id,
    criteria: Criteria,
    quantity: int,
    routing: Routing | None = None,
    mode: str = Mode.ATOMIC,
    fill_by=None,
    request_id: str = "",
) -> BulkOrder:
    """Place a bulk order by quantity (API.md §2, steps 2-4 and mode=immediate_partial),
    atomically. Returns the order with its `assigned_numbers`.

    Guarantees: the cost of the whole quantity (× today's price) is checked against available
    credit first (InsufficientCredit, nothing recorded). If inventory holds `quantity` matching
    numbers they are all assigned and the cost charged in this transaction (a complete order,
    not a backorder). Otherwise:
    - atomic: nothing is assigned; if the carrier cannot supply the quantity,
      InsufficientInventory (details.available_count) and nothing is recorded or held; else the
      order is recorded as processing and the full cost is held;
    - immediate_partial: the k matching numbers inventory holds now are assigned and charged
      (one claim statement); if the carrier can supply the rest, the order is processing and
      the rest's cost is held; if it cannot, the order ends partial at once (nothing held), or,
      with k = 0, InsufficientInventory as atomic.
    Fulfilment of a processing order is enqueued only after commit.
    """
    routing = routing or Routing()
    organization = lock_organization(organization_id)
    unit_price = price_of(prices_by_type(), criteria.number_type)
    cost = unit_price * quantity
    try:
        ensure_available_credit(organization, cost)
    except InsufficientCredit:
        _count_placed(mode, "rejected_credit")
        raise
    now = timezone.now()
    order = BulkOrder(
        organization=organization,
        quantity=quantity,
        **{name: getattr(criteria, name) for name in CRITERIA_FIELDS},
        features=list(criteria.features),
        inbound_url=routing.inbound_url,
        status_url=routing.status_url,
        label=routing.label,
        unit_price_cents=unit_price,
        mode=mode,
        fill_by=fill_by,
        status=Status.PROCESSING,
        request_id=request_id or "",
        created_at=now,
        progressed_at=now,
    )
    # The numbers are claimed before the order row is written (its id is known already, and the
    # numbers keep it as a plain column), so an order is written once, in its state after the
    # claim. Either mode is one claim statement whatever the quantity.
    partial = mode == Mode.IMMEDIATE_PARTIAL
    try:
        numbers = claim_matching_numbers(
            organization_id=organization.id,
            criteria=criteria,
            quantity=quantity,
            routing=routing,
            order_id=order.id,
            all_or_nothing=not partial,
        )
    except NotEnoughNumbers as shortfall:
        numbers, available_count = [], shortfall.available_count
    else:
        available_count = len(numbers)
    order.assigned_numbers = numbers
    order.assigned_count = len(numbers)
    if numbers:
        credit_charge(
            organization=organization,
            cents=len(numbers) * unit_price,
            order_id=order.id,
            note=f"{len(numbers)} {criteria.number_type} numbers, bulk order {order.id}",
        )
    if len(numbers) == quantity:
        order.status = Status.COMPLETE
        order.completed_at = now
        order.save(force_insert=True)
        log.info("bulk_order_filled", order_id=str(order.id), quantity=quantity, mode=mode)
        _count_placed(mode, "filled")
        return order

    shortfall = quantity - len(numbers)
    if not get_carrier().can_supply(criteria=criteria, quantity=shortfall):
        if not numbers:
            # Raising rolls back the order row: nothing recorded, nothing held.
            if partial:  # the claim skipped rows other orders hold locked: count them too
                available_count = count_matching_available(criteria)
            _count_placed(mode, "rejected_inventory")
            raise InsufficientInventory(details={"available_count": available_count})
        # immediate_partial with no supply for the rest: it ends now, the rest failed. It is
        # not a backorder (nothing to fulfil, no completion event: the answer says it all).
        order.status = Status.PARTIAL
        order.failed_count = shortfall
        order.completed_at = now
        order.save(force_insert=True)
        log.info(
            "bulk_order_partial_at_once",
            order_id=str(order.id),
            quantity=quantity,
            failed=shortfall,
        )
        _count_placed(mode, "partial_at_once")
        return order

    order.is_backorder = True
    order.save(force_insert=True)
    credit_hold(
        organization=organization,
        cents=shortfall * unit_price,
        order_id=order.id,
        note=f"held for {shortfall} {criteria.number_type} numbers, bulk order {order.id}",
    )
    _enqueue_fulfilment(order.id)
    log.info(
        "bulk_order_backordered",
        order_id=str(order.id),
        quantity=quantity,
        assigned_now=len(numbers),
        mode=mode,
    )
    _count_placed(mode, "backordered")
    return order


def _count_placed(mode: str, outcome: str) -> None:
    # Counted where the outcome is decided, not on commit: the request commits right after
    # (a failure in between is a 500 and rare), and on_commit would be one more callback per
    # order.
    metrics.BULK_ORDERS_PLACED.labels(mode=mode, outcome=outcome).inc()


def _count_finished(order: BulkOrder) -> None:
    metrics.BULK_ORDERS_FINISHED.labels(status=order.status).inc()
    metrics.BULK_ORDER_FULFILMENT_DURATION.labels(status=order.status).observe(
        max((order.completed_at - order.created_at).total_seconds(), 0)
    )


def _lock_processing_order(order_id):
    """(organization, order) locked in that order, or None when the order is unknown or
    already terminal."""
    organization_id = (
        BulkOrder.objects.filter(pk=order_id).values_list("organization_id", flat=True).first()
    )
    if organization_id is None:
        return None
    organization = lock_organization(organization_id)
    order = BulkOrder.objects.select_for_update().get(pk=order_id)
    if order.is_terminal:
        return None
    return organization, order


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


def _finish(
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


def _deadline_passed(order: BulkOrder) -> bool:
    return order.fill_by is not None and order.fill_by <= timezone.now()


def _provision_delivered(order: BulkOrder, numbers) -> list[str]:
    """The numbers a carrier delivered for the order, added to inventory
    (phone_numbers.services.inventory), then claimed for it, up to what it still needs; the rest
    stay in inventory, available. A delivered number that is not of the order's type and area
    code, or that inventory already holds, is not usable for it and counts as failed."""
    matching = []
    for number in numbers:
        parsed = numbering.parse_e164(number)
        if parsed is None or parsed[0] != order.number_type:
            continue
        if order.area_code and parsed[1] != order.area_code:
            continue
        matching.append(number)
    # Every matching number we were sold enters inventory; the order takes what it needs.
    fresh = numbers_provision(numbers=matching)[: order.pending_count]
    return claim_listed_numbers(
        organization_id=order.organization_id,
        numbers=fresh,
        routing=routing_of(order),
        order_id=order.id,
    )


def _stock_delivered(numbers) -> int:
    """Numbers a carrier delivered for an order that had already ended: they go into inventory
    as available (never to the order, never charged)."""
    return len(numbers_provision(numbers=numbers))


def bulk_order_fulfil(*, order_id) -> float | None:
    """Advance a backordered order as far as it can go now. Returns the number of seconds after
    which to call again (the carrier is still working on it), or None when there is nothing
    left to do (the order is terminal or unknown).

    Guarantees: each step runs in its own transaction with the organization and the order
    locked and starts from the order as stored, so it is safe to call twice or concurrently;
    numbers are claimed only through phone_numbers.allocation (never twice); each assigned
    number converts exactly its price from the hold into a charge; the order ends once. An
    order whose fill_by passed ends as a cancel ends it. A carrier order that delivers after
    its order was ended early (cancel, staff, deadline) is still followed to its end, and what
    it delivers goes into inventory as available, never to the order or the ledger.
    Raises CarrierError (transient) for the task to retry; the transaction of that step is
    rolled back.
    """
    carrier = get_carrier()
    # Step 1: inventory first, then order the rest from the carrier (once).
    with transaction.atomic():
        locked = _lock_processing_order(order_id)
        if locked is not None:
            organization, order = locked
            if _deadline_passed(order):
                _end_by_deadline(organization=organization, order=order)
            elif not order.carrier_order_ref:
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
                if order.pending_count == 0:
                    _finish(organization=organization, order=order, ended_by=EndedBy.CARRIER)
                    return None
                # Only type and area code go to the carrier: it supplies by those (the digit and
                # feature criteria are inventory-only for now).
                carrier_criteria = Criteria(
                    number_type=order.number_type, area_code=order.area_code
                )
                order.carrier_order_ref = carrier.place_order(
                    criteria=carrier_criteria,
                    quantity=order.pending_count,
                    client_ref=str(order.id),
                )
                order.carrier_quantity = order.pending_count
                order.progressed_at = timezone.now()
                order.save(update_fields=["carrier_order_ref", "carrier_quantity", "progressed_at"])
                log.info(
                    "bulk_order_carrier_placed",
                    order_id=str(order.id),
                    carrier_ref=order.carrier_order_ref,
                    quantity=order.carrier_quantity,
                )
    # Step 2: has the carrier delivered? Asked before taking any lock, so a slow carrier never
    # holds up the organization's other requests; the answer is applied under the locks.
    # An order that ended early is still followed while its carrier order runs (its delivery
    # goes to inventory); one that fulfilment ended has nothing left to follow.
    row = (
        BulkOrder.objects.filter(pk=order_id)
        .values_list("carrier_order_ref", "status", "cancelled_at")
        .first()
    )
    if row is None or row[0] is None:
        return None
    ref, stored_status, cancelled_at = row
    if stored_status != Status.PROCESSING and cancelled_at is None:
        return None
    status = carrier.check_order(ref)
    with transaction.atomic():
        locked = _lock_processing_order(order_id)
        if locked is not None and _deadline_passed(locked[1]):
            _end_by_deadline(organization=locked[0], order=locked[1])
            locked = None
        if locked is None:  # ended early, before or while the carrier worked
            if status.pending:
                return status.retry_after_seconds
            stocked = _stock_delivered(status.numbers)
            log.info("bulk_order_late_delivery_stocked", order_id=str(order_id), added=stocked)
            return None
        organization, order = locked
        if order.carrier_order_ref != ref:  # cannot happen today: a ref is set once
            return 0
        if status.pending:
            BulkOrder.objects.filter(pk=order.pk).update(progressed_at=timezone.now())
            return status.retry_after_seconds
        numbers = _provision_delivered(order, status.numbers)
        _record_assigned(organization=organization, order=order, numbers=numbers, source="carrier")
        _finish(organization=organization, order=order, ended_by=EndedBy.CARRIER)
        return None


def _end_by_deadline(*, organization, order: BulkOrder) -> bool:
    return _finish(
        organization=organization,
        order=order,
        ended_by=EndedBy.DEADLINE,
        reason="fill_by deadline passed",
        cancelled=True,
    )


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
    compare-and-set of _finish decides between this and fulfilment's own end). Raises NotFound
    for an unknown order or another organization's, OrderNotProcessing (with its status) if it
    already ended, changing nothing. A carrier delivery that arrives later goes to inventory
    (bulk_order_fulfil). Returns the order as stored.
    """
    owner = BulkOrder.objects.filter(pk=order_id).values_list("organization_id", flat=True).first()
    if owner is None or (organization_id is not None and owner != organization_id):
        raise NotFound()
    organization = lock_organization(owner)
    order = BulkOrder.objects.select_for_update().get(pk=order_id)
    ended = _finish(
        organization=organization,
        order=order,
        ended_by=by,
        reason=reason or CANCEL_REASONS.get(by, ""),
        cancelled=True,
    )
    if not ended:
        order.refresh_from_db(fields=["status"])
        raise OrderNotProcessing(status=order.status)
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
        _enqueue_fulfilment(order_id)
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
                _enqueue_fulfilment(order_id)
                resumed.append(str(order_id))
    if resumed:
        log.warning("bulk_orders_resumed", order_ids=resumed)
    return resumed
