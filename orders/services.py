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
    bulk_order_fulfil: claim from inventory, order the rest from the carrier through
                       placements (CarrierOrder: intent committed, sent with no lock held,
                       looked up by reference before any resend, polled), assign what matches
                       of what they deliver, top up after a partial placement (at most
                       CARRIER_MAX_PLACEMENTS, never past fill_by) -> complete | partial |
                       failed, unused hold released
    bulk_order_cancel: the client, staff or the fill_by deadline end it early -> the
                       remainder fails, its hold released, pending carrier sub-orders
                       cancelled after commit (carrier_orders_cancel); a later carrier
                       delivery goes to inventory, never to the order
    carrier_webhook_apply: a carrier's signed push schedules fulfilment at once

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
from django.db.models import F, Q
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
from api.errors import (
    InsufficientCredit,
    InsufficientInventory,
    NotFound,
    OrderNotProcessing,
    ServiceUnavailable,
)
from api.sql import insert
from orders import signals
from orders.models import BulkOrder, CarrierOrder, CarrierWebhookEvent
from phone_numbers import numbering
from phone_numbers.allocation import (
    Criteria,
    NotEnoughNumbers,
    Routing,
    claim_listed_numbers,
    claim_matching_numbers,
    count_matching_available,
)
from phone_numbers.carriers import CarrierError, CarrierRejected, carrier_can_supply, get_carrier
from phone_numbers.models import PhoneNumber
from phone_numbers.selectors import price_of, prices_by_type
from phone_numbers.services.provisioning import carrier_numbers_provision

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


class _CarrierCheckNeeded(Exception):
    """Inventory is short and the carrier has not been asked yet: undo, ask, place again."""

    def __init__(self, shortfall: int):
        super().__init__(shortfall)
        self.shortfall = shortfall


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
    If the carrier cannot be asked, ServiceUnavailable (503 with Retry-After: it fails closed)
    and nothing is recorded, charged or held. The carrier is asked with no organization lock
    held: when inventory turns out short, the transaction is undone, the (cached) capacity
    check for the shortfall runs, and the placement runs again with its answer. Fulfilment of
    a processing order is enqueued only after commit.
    """
    arguments = dict(
        organization_id=organization_id,
        criteria=criteria,
        quantity=quantity,
        routing=routing or Routing(),
        mode=mode,
        fill_by=fill_by,
        request_id=request_id,
    )
    try:
        return _bulk_order_place(**arguments, carrier_can_supply_it=None)
    except _CarrierCheckNeeded as needed:
        shortfall = needed.shortfall
    try:
        can_supply = carrier_can_supply(criteria=criteria, quantity=shortfall)
    except CarrierError as exc:
        log.warning("carrier_capacity_check_failed", error=str(exc))
        retry_after = max(5, int(exc.retry_after_seconds or 0))
        raise ServiceUnavailable(retry_after=retry_after) from exc
    return _bulk_order_place(**arguments, carrier_can_supply_it=can_supply)


@transaction.atomic
def _bulk_order_place(
    *,
    organization_id,
    criteria,
    quantity,
    routing,
    mode,
    fill_by,
    request_id,
    carrier_can_supply_it,
) -> BulkOrder:
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
        insert(order)
        log.info("bulk_order_filled", order_id=str(order.id), quantity=quantity, mode=mode)
        _count_placed(mode, "filled")
        return order

    shortfall = quantity - len(numbers)
    if carrier_can_supply_it is None:
        raise _CarrierCheckNeeded(shortfall)  # rolls back: nothing claimed, recorded or held
    # The carrier was asked about the first pass's shortfall; requests in between may have
    # moved inventory by a few numbers, which the fulfilment's own claims absorb.
    if not carrier_can_supply_it:
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
        insert(order)
        log.info(
            "bulk_order_partial_at_once",
            order_id=str(order.id),
            quantity=quantity,
            failed=shortfall,
        )
        _count_placed(mode, "partial_at_once")
        return order

    order.is_backorder = True
    insert(order)
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


# --- Fulfilment through carrier placements -------------------------------------------------------
#
# A placement (CarrierOrder) moves intent -> placed -> complete | partial | failed | cancelled.
# No carrier call ever runs inside a transaction: the intent is committed first, the call runs
# with no lock held, and its answer is recorded in a second transaction under the locks.

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
            _finish(
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
            _finish(organization=organization, order=order, ended_by=EndedBy.CARRIER)
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
            _finish(organization=organization, order=order, ended_by=EndedBy.CARRIER)
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
            _finish(
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
        _enqueue_fulfilment(order_id)
    return cancelled


def _enqueue_carrier_cancel(order_id) -> None:
    from orders.tasks import cancel_carrier_orders  # tasks import services: import late

    transaction.on_commit(lambda: cancel_carrier_orders.delay(str(order_id)), robust=True)


def _end_by_deadline(*, organization, order: BulkOrder) -> bool:
    """End the order as its fill_by deadline does; what is pending at the carrier is cancelled
    there after commit."""
    ended = _finish(
        organization=organization,
        order=order,
        ended_by=EndedBy.DEADLINE,
        reason="fill_by deadline passed",
        cancelled=True,
    )
    if ended:
        _enqueue_carrier_cancel(order.id)
    return ended


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
    already ended, changing nothing. After commit, the order's pending carrier sub-orders are
    cancelled at the carrier (carrier_orders_cancel); a carrier delivery that arrives anyway
    goes to inventory (bulk_order_fulfil). Returns the order as stored.
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
    # After commit: whoever ended it, what is still pending at the carrier is cancelled there.
    _enqueue_carrier_cancel(order.id)
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
                _enqueue_fulfilment(order_id)
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
        _enqueue_fulfilment(placement.bulk_order_id)
    log.info(
        "carrier_webhook_applied",
        carrier=carrier,
        event_id=event_id,
        order_id=str(placement.bulk_order_id),
    )
    return True
