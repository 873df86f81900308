"""Placing orders: explicit numbers (listed_order_place) and bulk by quantity and criteria
(bulk_order_place), filled from inventory at once or backordered."""

import structlog
from django.db import transaction
from django.utils import timezone

from accounts.services import (
    credit_charge,
    credit_hold,
    ensure_available_credit,
    lock_organization,
    lock_organization_reading,
)
from api import metrics
from api.errors import (
    InsufficientCredit,
    InsufficientInventory,
    ServiceUnavailable,
)
from api.sql import insert, insert_sql, saved
from orders.models import BulkOrder
from orders.services.lifecycle import CRITERIA_FIELDS, enqueue_fulfilment
from phone_numbers import numbering
from phone_numbers.allocation import (
    Criteria,
    NotEnoughNumbers,
    Routing,
    claim_listed_numbers,
    claim_matching_numbers,
    count_matching_available,
)
from phone_numbers.carriers import CarrierError, carrier_can_supply
from phone_numbers.models import PhoneNumber
from phone_numbers.selectors import checked_price, price_of, price_sql, prices_by_type

log = structlog.get_logger(__name__)
Status = BulkOrder.Status
Mode = BulkOrder.Mode


def insufficient_inventory(shortfall: NotEnoughNumbers) -> InsufficientInventory:
    """The 409 of either sale: how many matching numbers inventory holds, and on explicit
    orders which of the listed ones are not available."""
    details = {"available_count": shortfall.available_count}
    if shortfall.unavailable_numbers is not None:
        details["unavailable_numbers"] = shortfall.unavailable_numbers
    return InsufficientInventory(details=details)


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
    # The price is read in the lock's statement: one round trip less (issue 20). A staff edit
    # of the price applies to the next order.
    organization, price = lock_organization_reading(
        organization_id, price_sql(criteria.number_type)
    )
    unit_price = checked_price(price, criteria.number_type)
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
    if len(numbers) == quantity:
        order.status = Status.COMPLETE
        order.completed_at = now
        # The order row is written in the charge's statement: one round trip less (issue 20).
        _charge(organization, order, criteria.number_type, along_with=insert_sql(order))
        saved(order)
        log.info("bulk_order_filled", order_id=str(order.id), quantity=quantity, mode=mode)
        _count_placed(mode, "filled")
        return order

    if numbers:
        _charge(organization, order, criteria.number_type)
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
    enqueue_fulfilment(order.id)
    log.info(
        "bulk_order_backordered",
        order_id=str(order.id),
        quantity=quantity,
        assigned_now=len(numbers),
        mode=mode,
    )
    _count_placed(mode, "backordered")
    return order


def _charge(organization, order: BulkOrder, number_type: str, along_with=None) -> None:
    """Charge the numbers the order was assigned now (see credit_charge for along_with)."""
    count = order.assigned_count
    credit_charge(
        organization=organization,
        cents=count * order.unit_price_cents,
        order_id=order.id,
        note=f"{count} {number_type} numbers, bulk order {order.id}",
        along_with=along_with,
    )


def _count_placed(mode: str, outcome: str) -> None:
    # Counted where the outcome is decided, not on commit: the request commits right after
    # (a failure in between is a 500 and rare), and on_commit would be one more callback per
    # order.
    metrics.BULK_ORDERS_PLACED.labels(mode=mode, outcome=outcome).inc()
