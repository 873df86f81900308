"""Every write to bulk orders (API.md §2, POST /v1/phone-numbers/bulk and its fulfilment).

How an order moves:

    bulk_order_place  --(inventory has them all)-->  complete (charged, order_id hidden)
           |
           +--(carrier can supply)--> processing, full cost held, fulfilment enqueued
                                          |
    bulk_order_fulfil: claim from inventory, order the rest from the carrier, assign what it
                       delivers -> complete | partial | failed, unused hold released
    bulk_order_close:  staff end it early -> the remainder fails, its hold released

Locks are always taken in the same order: organization, then the order row, then numbers (inside
phone_numbers.allocation). Every step of fulfilment runs with the organization and the order
locked and re-reads the order, so a task delivered twice, or run by two workers at once, sees
the other's work and never assigns or charges twice. The terminal transition is a
compare-and-set on status, so an order ends exactly once.
"""

from dataclasses import dataclass
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
from api.errors import InsufficientInventory
from orders import signals
from orders.models import BulkOrder
from phone_numbers import numbering
from phone_numbers.allocation import (
    Criteria,
    NotEnoughNumbers,
    Routing,
    claim_listed_numbers,
    claim_matching_numbers,
)
from phone_numbers.carriers import get_carrier
from phone_numbers.models import NumberPrice, PhoneNumber

log = structlog.get_logger(__name__)
Status = BulkOrder.Status


class OrderNotProcessing(ValueError):
    """The order already reached a terminal status."""


@dataclass(frozen=True)
class Placement:
    order: BulkOrder
    assigned_numbers: list[str]

    @property
    def is_backorder(self) -> bool:
        return self.order.is_backorder


CRITERIA_FIELDS = ("number_type", "area_code", "exchange", "pattern", "starts_with", "ends_with")


def criteria_of(order: BulkOrder) -> Criteria:
    """The order's criteria as placed: fulfilment claims with exactly what the order asked."""
    return Criteria(
        **{name: getattr(order, name) for name in CRITERIA_FIELDS},
        features=tuple(order.features or ()),
    )


def routing_of(order: BulkOrder) -> Routing:
    return Routing(inbound_url=order.inbound_url, status_url=order.status_url, label=order.label)


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
    request_id: str = "",
) -> BulkOrder:
    """Place a bulk order by quantity (API.md §2, steps 2-4), atomically. Returns the order
    with its `assigned_numbers`.

    Guarantees: the cost (quantity × today's price) is checked against available credit first
    (InsufficientCredit, nothing recorded). If inventory holds `quantity` matching numbers they
    are all assigned and the cost charged in this transaction (a complete order, not a
    backorder). Otherwise nothing is assigned: if the carrier cannot supply the order,
    InsufficientInventory (details.available_count) and nothing is recorded or held; else the
    order is recorded as processing, the full cost is held, and fulfilment is enqueued only
    after commit.
    """
    routing = routing or Routing()
    organization = lock_organization(organization_id)
    unit_price = NumberPrice.objects.get(number_type=criteria.number_type).price_cents
    cost = unit_price * quantity
    ensure_available_credit(organization, cost)
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
        status=Status.PROCESSING,
        request_id=request_id or "",
        created_at=now,
        progressed_at=now,
    )
    # The numbers are claimed before the order row is written (its id is known already, and the
    # numbers keep it as a plain column), so a filled order is written once, complete.
    try:
        numbers = claim_matching_numbers(
            organization_id=organization.id,
            criteria=criteria,
            quantity=quantity,
            routing=routing,
            order_id=order.id,
        )
    except NotEnoughNumbers as shortfall:
        available_count = shortfall.available_count
    else:
        order.status = Status.COMPLETE
        order.assigned_count = quantity
        order.completed_at = now
        order.save(force_insert=True)
        credit_charge(
            organization=organization,
            cents=cost,
            order_id=order.id,
            note=f"{quantity} {criteria.number_type} numbers, bulk order {order.id}",
        )
        log.info("bulk_order_filled", order_id=str(order.id), quantity=quantity)
        order.assigned_numbers = numbers
        return order

    if not get_carrier().can_supply(criteria=criteria, quantity=quantity):
        # Raising rolls back the order row: nothing recorded, nothing held.
        raise InsufficientInventory(details={"available_count": available_count})
    order.is_backorder = True
    order.save(force_insert=True)
    credit_hold(
        organization=organization,
        cents=cost,
        order_id=order.id,
        note=f"held for {quantity} {criteria.number_type} numbers, bulk order {order.id}",
    )
    _enqueue_fulfilment(order.id)
    log.info("bulk_order_backordered", order_id=str(order.id), quantity=quantity)
    order.assigned_numbers = []
    return order


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


def _finish(*, organization, order: BulkOrder, reason: str = "") -> bool:
    """End a processing order: whatever is still pending fails, its hold is released, and the
    completion webhook is recorded. A compare-and-set on status makes this happen once."""
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
    log.info(
        "bulk_order_finished",
        order_id=str(order.id),
        status=order.status,
        assigned=order.assigned_count,
        failed=order.failed_count,
    )
    return True


def _provision_delivered(order: BulkOrder, numbers) -> list[str]:
    """New inventory rows for the numbers a carrier delivered, then claimed for the order.
    A delivered number that is not of the order's type and area code, or that inventory already
    holds, is not usable and counts as failed."""
    usable = []
    for number in dict.fromkeys(numbers):  # unique, in order
        parsed = numbering.parse_e164(number)
        if parsed is None or parsed[0] != order.number_type:
            continue
        if order.area_code and parsed[1] != order.area_code:
            continue
        usable.append((number, parsed))
    existing = set(
        PhoneNumber.objects.filter(number__in=[n for n, _ in usable]).values_list(
            "number", flat=True
        )
    )
    fresh = [(n, parsed) for n, parsed in usable if n not in existing][: order.pending_count]
    PhoneNumber.objects.bulk_create(
        [
            PhoneNumber(number=number, number_type=number_type, area_code=area_code)
            for number, (number_type, area_code) in fresh
        ]
    )
    return claim_listed_numbers(
        organization_id=order.organization_id,
        numbers=[number for number, _ in fresh],
        routing=routing_of(order),
        order_id=order.id,
    )


def bulk_order_fulfil(*, order_id) -> float | None:
    """Advance a backordered order as far as it can go now. Returns the number of seconds after
    which to call again (the carrier is still working on it), or None when there is nothing
    left to do (the order is terminal or unknown).

    Guarantees: each step runs in its own transaction with the organization and the order
    locked and starts from the order as stored, so it is safe to call twice or concurrently;
    numbers are claimed only through phone_numbers.allocation (never twice); each assigned
    number converts exactly its price from the hold into a charge; the order ends once.
    Raises CarrierError (transient) for the task to retry; the transaction of that step is
    rolled back.
    """
    carrier = get_carrier()
    # Step 1: inventory first, then order the rest from the carrier (once).
    with transaction.atomic():
        locked = _lock_processing_order(order_id)
        if locked is None:
            return None
        organization, order = locked
        if not order.carrier_order_ref:
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
                _finish(organization=organization, order=order)
                return None
            # Only type and area code go to the carrier: it supplies by those (the digit and
            # feature criteria are inventory-only for now).
            carrier_criteria = Criteria(number_type=order.number_type, area_code=order.area_code)
            order.carrier_order_ref = carrier.place_order(
                criteria=carrier_criteria, quantity=order.pending_count, client_ref=str(order.id)
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
    ref = (
        BulkOrder.objects.filter(pk=order_id, status=Status.PROCESSING)
        .values_list("carrier_order_ref", flat=True)
        .first()
    )
    if ref is None:
        return None
    status = carrier.check_order(ref)
    with transaction.atomic():
        locked = _lock_processing_order(order_id)
        if locked is None:
            return None
        organization, order = locked
        if order.carrier_order_ref != ref:  # cannot happen today: a ref is set once
            return 0
        if status.pending:
            BulkOrder.objects.filter(pk=order.pk).update(progressed_at=timezone.now())
            return status.retry_after_seconds
        numbers = _provision_delivered(order, status.numbers)
        _record_assigned(organization=organization, order=order, numbers=numbers, source="carrier")
        _finish(organization=organization, order=order)
        return None


@transaction.atomic
def bulk_order_close(*, order_id, reason: str) -> BulkOrder:
    """Staff end a processing order now: numbers already assigned stay assigned and charged,
    the remainder fails and its hold is released, the reason is recorded, and the completion
    webhook fires, exactly as when fulfilment ends it. A carrier delivery arriving later is
    ignored. Raises OrderNotProcessing if the order already ended, ValueError without a
    reason."""
    if not reason.strip():
        raise ValueError("closing an order needs a reason")
    locked = _lock_processing_order(order_id)
    if locked is None:
        raise OrderNotProcessing("the order is not processing")
    organization, order = locked
    _finish(organization=organization, order=order, reason=reason.strip())
    order.refresh_from_db()
    return order


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
