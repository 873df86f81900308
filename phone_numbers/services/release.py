"""Releasing numbers: by the organization (API), by staff (admin), and the end of quarantine
that puts released numbers back in inventory."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.services import lock_organization
from api.errors import NotFound
from phone_numbers.carriers import CarrierRejected, get_carrier
from phone_numbers.history import record_quarantines_ended, record_releases
from phone_numbers.locks import lock_numbers
from phone_numbers.models import PhoneNumber, PhoneNumberEvent

Kind = PhoneNumberEvent.Kind
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ReleaseOutcome:
    """Every id asked for, in exactly one list, in the order first asked (duplicates dropped).
    Ids are canonical lower-case UUID strings."""

    released: list[str]
    unknown: list[str]
    already_released: list[str]


def carrier_numbers_return(*, numbers: list[str]) -> int:
    """Give `returned` numbers back at the carrier (API.md §6.1: Telnyx deletes them from the
    account). Runs outside any transaction: the carrier is never called with a lock held.
    Returns how many the carrier deleted; a number it refuses to delete (e.g. a deletion lock)
    is logged for staff and skipped. Raises CarrierError (transient) for the task to retry."""
    carrier = get_carrier()
    deleted = 0
    for number in numbers:
        if not PhoneNumber.objects.filter(number=number, state=PhoneNumber.State.RETURNED).exists():
            continue  # not returned (any more): never delete a number we still sell
        try:
            deleted += bool(carrier.release_number(number))
        except CarrierRejected as rejected:
            log.warning("carrier_number_return_refused", number=number, detail=rejected.detail)
    return deleted


def _enqueue_carrier_return(numbers: list[str]) -> None:
    if not numbers:
        return
    from phone_numbers.tasks import return_numbers_to_carrier  # tasks import services

    batch = list(numbers)
    transaction.on_commit(lambda: return_numbers_to_carrier.delay(batch), robust=True)


def _release_values(*, now: datetime, return_to_carrier: bool) -> dict:
    """What a released number looks like: nobody's, routing cleared, quarantined until
    now + NUMBER_QUARANTINE_DAYS (or returned to the carrier, for good)."""
    if return_to_carrier:
        state, quarantine_ends_at = PhoneNumber.State.RETURNED, None
    else:
        state = PhoneNumber.State.QUARANTINED
        quarantine_ends_at = now + timedelta(days=settings.NUMBER_QUARANTINE_DAYS)
    return {
        "state": state,
        "organization": None,
        "inbound_url": None,
        "status_url": None,
        "label": None,
        "assigned_at": None,
        "quarantine_ends_at": quarantine_ends_at,
        "updated_at": now,
    }


@transaction.atomic
def numbers_release(
    *,
    organization_id,
    number_ids: list[uuid.UUID],
    return_to_carrier: bool = False,
    api_key_id=None,
    request_id: str = "",
) -> ReleaseOutcome:
    """Release numbers the organization owns (DELETE /v1/phone-numbers/{id} and
    POST /v1/phone-numbers/bulk/release): each id on its own, duplicates dropped.

    Guarantees, when it returns (the transaction has committed):
    - every released number has no organization and no routing, and is `quarantined` until
      now + NUMBER_QUARANTINE_DAYS (or `returned` with return_to_carrier; the caller checks the
      platform:inventory:write scope) and has a `released`/`returned` history row naming the
      organization, the order that assigned it and the API key;
    - `already_released`: not the organization's now, but this organization released it
      earlier (a release history row); `unknown`: everything else (never existed, another
      organization's, never this organization's), so ids of others cannot be probed;
    - no credit moves: a release refunds nothing (API.md prices are "charged once when a
      number is assigned"; nothing says a release gives money back);
    - locks: the organization first, then its numbers in primary-key order (the lock order of
      every other writer), so a release never deadlocks with an order;
    - a constant number of queries whatever the count (lock, select, update, history insert,
      history lookup).
    """
    ids = list(dict.fromkeys(uuid.UUID(str(number_id)) for number_id in number_ids))
    # Not for credit: the history rows reference the organization, and their foreign-key check
    # waits on its row lock; taking the lock first keeps the order organization -> numbers.
    lock_organization(organization_id)
    owned = list(
        lock_numbers(pk__in=ids, organization_id=organization_id).values_list(
            "pk", "order_id", "assigned_at", "number"
        )
    )
    owned_ids = {pk for pk, *_ in owned}
    now = timezone.now()
    if owned:
        updated = PhoneNumber.objects.filter(
            pk__in=owned_ids, organization_id=organization_id
        ).update(**_release_values(now=now, return_to_carrier=return_to_carrier))
        if updated != len(owned):  # the rows are locked: cannot happen
            raise RuntimeError(f"released {updated} of {len(owned)} locked numbers")
        if return_to_carrier:
            _enqueue_carrier_return([number for *_, number in owned])
        record_releases(
            kind=Kind.RETURNED if return_to_carrier else Kind.RELEASED,
            rows=[
                (pk, organization_id, order_id, assigned_at)
                for pk, order_id, assigned_at, _ in owned
            ],
            at=now,
            api_key_id=api_key_id,
            request_id=request_id,
        )
    rest = [pk for pk in ids if pk not in owned_ids]
    released_earlier = set()
    if rest:
        released_earlier = set(
            PhoneNumberEvent.objects.filter(
                number_id__in=rest,
                organization_id=organization_id,
                kind__in=PhoneNumberEvent.RELEASE_KINDS,
            )
            .values_list("number_id", flat=True)
            .distinct()
        )
    return ReleaseOutcome(
        released=[str(pk) for pk in ids if pk in owned_ids],
        unknown=[str(pk) for pk in rest if pk not in released_earlier],
        already_released=[str(pk) for pk in rest if pk in released_earlier],
    )


def number_release(
    *,
    organization_id,
    number_id: uuid.UUID,
    return_to_carrier: bool = False,
    api_key_id=None,
    request_id: str = "",
) -> None:
    """Release one of the organization's numbers (DELETE /v1/phone-numbers/{id}): as
    numbers_release; NotFound (nothing changed) when the number is not the organization's now,
    whether it never was or was released already."""
    outcome = numbers_release(
        organization_id=organization_id,
        number_ids=[number_id],
        return_to_carrier=return_to_carrier,
        api_key_id=api_key_id,
        request_id=request_id,
    )
    if not outcome.released:
        raise NotFound()


@dataclass(frozen=True)
class StaffReleaseOutcome:
    changed: list[str]  # numbers (E.164) released or returned
    skipped: list[str]  # numbers left as they were (see numbers_release_by_staff)


@transaction.atomic
def numbers_release_by_staff(
    *, number_ids, staff_user_id, return_to_carrier: bool = False, note: str = ""
) -> StaffReleaseOutcome:
    """Release numbers from whichever organization owns them, or return numbers to the carrier
    (the admin's actions; the admin allows returning to superusers only).

    Release: an `assigned` number becomes `quarantined` exactly as numbers_release does it
    (routing cleared, NUMBER_QUARANTINE_DAYS); other states are skipped. Return: an
    `assigned`, `available` or `quarantined` number becomes `returned` (never sold again);
    `returned` ones are skipped. Each change has a history row naming the staff user and the
    note. No credit moves. Locks: the owning organizations in primary-key order, then the
    numbers in primary-key order; a number that changed owner meanwhile is skipped."""
    ids = list(dict.fromkeys(number_ids))
    owners = set(
        PhoneNumber.objects.filter(pk__in=ids, organization__isnull=False).values_list(
            "organization_id", flat=True
        )
    )
    for organization_id in sorted(owners):
        lock_organization(organization_id)
    rows = list(
        lock_numbers(pk__in=ids).values_list(
            "pk", "number", "state", "organization_id", "order_id", "assigned_at"
        )
    )
    State = PhoneNumber.State
    from_owner = [r for r in rows if r[2] == State.ASSIGNED and r[3] in owners]
    from_inventory = (
        [r for r in rows if r[2] in (State.AVAILABLE, State.QUARANTINED)]
        if return_to_carrier
        else []
    )
    now = timezone.now()
    values = _release_values(now=now, return_to_carrier=return_to_carrier)
    kind = Kind.RETURNED if return_to_carrier else Kind.RELEASED
    for batch, expected_state in ((from_owner, State.ASSIGNED), (from_inventory, None)):
        if not batch:
            continue
        matching = PhoneNumber.objects.filter(pk__in=[r[0] for r in batch])
        if expected_state:
            matching = matching.filter(state=expected_state)
        matching.update(**values)
        record_releases(
            kind=kind,
            rows=[
                (pk, organization_id, order_id, assigned_at)
                for pk, _, _, organization_id, order_id, assigned_at in batch
            ],
            at=now,
            staff_user_id=staff_user_id,
            note=note,
        )
    changed = {r[1] for r in from_owner + from_inventory}
    if return_to_carrier:
        _enqueue_carrier_return(sorted(changed))
    return StaffReleaseOutcome(
        changed=sorted(changed), skipped=sorted(r[1] for r in rows if r[1] not in changed)
    )


def quarantines_end(*, batch_size: int = 1000, now: datetime | None = None) -> int:
    """Put every number whose quarantine has ended (quarantine_ends_at <= now) back in
    inventory as `available`, with a `quarantine_ended` history row. Returns how many.

    Batches of `batch_size`, each one UPDATE in its own short transaction, so a large backlog
    never holds thousands of row locks for long. Safe on several workers at once: on PostgreSQL
    each batch picks its rows with FOR UPDATE SKIP LOCKED, so concurrent sweepers take disjoint
    rows and never wait on each other (on SQLite writers are serialized). A number someone else
    changed meanwhile (returned by staff) no longer matches and is left alone."""
    now = now or timezone.now()
    table = PhoneNumber._meta.db_table
    db_now = connection.ops.adapt_datetimefield_value(now)
    quarantined = PhoneNumber.State.QUARANTINED
    batch = (
        f"SELECT id FROM {table} WHERE state = %s AND quarantine_ends_at <= %s "
        "ORDER BY quarantine_ends_at LIMIT %s"
    )
    if connection.vendor == "postgresql":
        # ARRAY(...) makes the batch an InitPlan run exactly once. With `id IN (SELECT ...)`
        # and stale statistics the planner may pick a nested-loop semi join that re-runs the
        # locking subquery for every row: measured 140 s for 30,000 rows, and LIMIT no longer
        # bounds the batch (all 30,000 in one UPDATE).
        picked = f"id = ANY(ARRAY({batch} FOR UPDATE SKIP LOCKED))"
    else:
        picked = f"id IN ({batch})"
    sql = (
        f"UPDATE {table} SET state = %s, quarantine_ends_at = NULL, updated_at = %s "
        f"WHERE state = %s AND {picked} RETURNING id"
    )
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                sql,
                [PhoneNumber.State.AVAILABLE, db_now, quarantined, quarantined, db_now, batch_size],
            )
            ended = [row[0] for row in cursor.fetchall()]
            record_quarantines_ended(number_ids=ended, at=now)
        total += len(ended)
        if len(ended) < batch_size:
            return total
