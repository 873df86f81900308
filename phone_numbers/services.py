"""Every write to inventory except claiming (phone_numbers.allocation): explicit orders,
adding numbers to inventory (seed_inventory, import_inventory, the admin CSV import), and owned
numbers: routing updates, releases (API and staff) and the end of quarantines."""

import io
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.services import credit_charge, ensure_available_credit, lock_organization
from api.errors import InsufficientInventory, NotFound
from phone_numbers import numbering
from phone_numbers.allocation import NotEnoughNumbers, Routing, claim_listed_numbers
from phone_numbers.history import record_quarantines_ended, record_releases
from phone_numbers.models import PhoneNumber, PhoneNumberEvent
from phone_numbers.selectors import PriceMissing, prices_by_type

# Rows per COPY / bulk_create batch: memory stays flat whatever the count.
PG_BATCH_SIZE = 50_000
SQLITE_BATCH_SIZE = 500  # under SQLite's 999 bound parameters for the existence check

# Exchange codes (the three digits after the area code) are [2-9]XX: 800 * 10,000 lines.
NUMBERS_PER_AREA_CODE = 800 * 10_000


@transaction.atomic
def order_listed_numbers(
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
        number_type = parsed[0]
        if number_type not in prices:
            raise PriceMissing(f"no price for number type {number_type!r}")
        cost += prices[number_type]

    organization = lock_organization(organization_id)
    ensure_available_credit(organization, cost)
    try:
        claim_listed_numbers(organization_id=organization_id, numbers=numbers, routing=routing)
    except NotEnoughNumbers as exc:
        raise InsufficientInventory(
            details={
                "available_count": exc.available_count,
                "unavailable_numbers": exc.unavailable_numbers,
            }
        ) from exc
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


# --- Adding numbers to inventory -------------------------------------------------------------


@dataclass(frozen=True)
class InventoryRow:
    number: str
    number_type: str
    area_code: str


def inventory_row(number: str) -> InventoryRow:
    """The row for a valid E.164 number (raises ValueError for an invalid one)."""
    parsed = numbering.parse_e164(number)
    if parsed is None:
        raise ValueError(f"not a valid US E.164 number: {number!r}")
    return InventoryRow(number, *parsed)


def inventory_add(rows: Iterable[InventoryRow], *, on_batch=None) -> int:
    """Add these numbers to inventory as available, skipping any that exist; returns how many
    were added. Batched (COPY on PostgreSQL, bulk_create on SQLite) and each batch is its own
    transaction, so memory does not grow with the number of rows and a long load does not hold
    one huge transaction. `on_batch(rows_in_batch)` is called after each batch (progress)."""
    batch_size = PG_BATCH_SIZE if connection.vendor == "postgresql" else SQLITE_BATCH_SIZE
    add_batch = _add_batch_postgresql if connection.vendor == "postgresql" else _add_batch_orm
    added = 0
    iterator = iter(rows)
    while batch := list(islice(iterator, batch_size)):
        with transaction.atomic():
            added += add_batch(batch)
        if on_batch:
            on_batch(len(batch))
    return added


_STAGE = "phone_numbers_inventory_stage"


def _add_batch_postgresql(batch: list[InventoryRow]) -> int:
    table = PhoneNumber._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        # A session temp table emptied at commit: COPY into it (the fastest way in), then one
        # INSERT ... ON CONFLICT DO NOTHING skips numbers that exist.
        # A batch lost in a crash is simply not there: the command reports what it added.
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
            "(number text, number_type text, area_code text) ON COMMIT DELETE ROWS"
        )
        buffer = io.StringIO()
        for row in batch:
            buffer.write(f"{row.number}\t{row.number_type}\t{row.area_code}\n")
        pg_cursor = cursor.cursor  # the psycopg cursor under Django's wrapper
        with pg_cursor.copy(f"COPY {_STAGE} (number, number_type, area_code) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        cursor.execute(
            f"INSERT INTO {table} (id, number, number_type, area_code, state, sms_enabled, "
            "mms_enabled, voice_enabled, created_at, updated_at) "
            f"SELECT gen_random_uuid(), number, number_type, area_code, %s, true, true, true, "
            "%s, %s "
            # In number order: the three indexes on number are filled left to right.
            f"FROM {_STAGE} ORDER BY number ON CONFLICT (number) DO NOTHING",
            [PhoneNumber.State.AVAILABLE, now, now],
        )
        return cursor.rowcount


def _add_batch_orm(batch: list[InventoryRow]) -> int:
    by_number = {row.number: row for row in batch}
    existing = set(
        PhoneNumber.objects.filter(number__in=by_number).values_list("number", flat=True)
    )
    now = timezone.now()
    new = [
        PhoneNumber(
            number=row.number,
            number_type=row.number_type,
            area_code=row.area_code,
            created_at=now,
            updated_at=now,
        )
        for number, row in by_number.items()
        if number not in existing
    ]
    # ignore_conflicts: a concurrent writer may add one of them between the check and here.
    PhoneNumber.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


class InventoryFull(ValueError):
    """Fewer free numbers are left in the requested area codes than asked for."""


def default_area_codes(number_type: str) -> list[str]:
    if number_type == numbering.TOLL_FREE:
        return sorted(numbering.TOLL_FREE_PREFIXES)
    return [code for code in map(str, range(200, 1000)) if numbering.is_local_area_code(code)]


def random_numbers(area_codes: list[str], rng: random.Random) -> Iterator[str]:
    """An endless stream of random valid numbers in these area codes."""
    while True:
        area_code = rng.choice(area_codes)
        exchange = rng.randrange(200, 1000)
        line = rng.randrange(10_000)
        yield f"+1{area_code}{exchange}{line:04d}"


def inventory_seed(
    *,
    count: int,
    number_type: str = numbering.LOCAL,
    area_codes: list[str] | None = None,
    random_seed: int | None = None,
    on_progress=None,
) -> int:
    """Add exactly `count` new available numbers of this type, spread at random over the area
    codes (default: every valid one for the type); numbers that exist are skipped and replaced
    by fresh ones. The same random_seed on the same inventory adds the same numbers. Raises
    InventoryFull (adding nothing) if the area codes cannot hold `count` more numbers.
    `on_progress(added)` is called after each batch. Returns the number added (== count)."""
    area_codes = sorted(set(area_codes or default_area_codes(number_type)))
    for area_code in area_codes:
        error = numbering.area_code_error(number_type, area_code)
        if error:
            raise ValueError(f"area code {area_code}: {error}")
    existing = PhoneNumber.objects.filter(area_code__in=area_codes).count()
    free = len(area_codes) * NUMBERS_PER_AREA_CODE - existing
    if count > free:
        raise InventoryFull(f"only {free} free numbers are left in those area codes")

    rng = random.Random(random_seed)
    stream = random_numbers(area_codes, rng)
    added = 0
    while added < count:
        # Ask for what is missing. Duplicates within a batch are dropped here; a number that
        # exists (from an earlier batch or run) is skipped by the insert and replaced in the
        # next round. Only one batch is in memory at a time.
        wanted = min(count - added, PG_BATCH_SIZE)
        fresh: dict[str, InventoryRow] = {}
        while len(fresh) < wanted:
            number = next(stream)
            fresh[number] = InventoryRow(number, number_type, number[2:5])
        batch_added = inventory_add(fresh.values())
        added += batch_added
        if on_progress:
            on_progress(batch_added)
    return added


# --- Owned numbers: routing, release, quarantine ---------------------------------------------

ROUTING_FIELDS = ("inbound_url", "status_url", "label")
Kind = PhoneNumberEvent.Kind


def number_update_routing(*, organization_id, number_id, changes: dict) -> PhoneNumber:
    """Change the routing of one of the organization's numbers (PATCH /v1/phone-numbers/{id}).

    `changes` maps some of inbound_url, status_url, label to a new value; `None` or `""`
    clears the field (stored as NULL); a field not in `changes` is left as it is. The callers
    validate the values. Guarantees: one guarded UPDATE, so the number is changed only if it is
    assigned to this organization at that moment; otherwise NotFound and nothing changes.
    Returns the number as stored afterwards."""
    unknown = set(changes) - set(ROUTING_FIELDS)
    if unknown:
        raise ValueError(f"not routing fields: {sorted(unknown)}")
    owned = PhoneNumber.objects.filter(pk=number_id, organization_id=organization_id)
    with transaction.atomic():
        if changes:
            values = {name: value or None for name, value in changes.items()}
            if not owned.update(**values, updated_at=timezone.now()):
                raise NotFound()
        number = owned.first()
    if number is None:
        raise NotFound()
    return number


@dataclass(frozen=True)
class ReleaseOutcome:
    """Every id asked for, in exactly one list, in the order first asked (duplicates dropped).
    Ids are canonical lower-case UUID strings."""

    released: list[str]
    unknown: list[str]
    already_released: list[str]


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
        PhoneNumber.objects.select_for_update()
        .filter(pk__in=ids, organization_id=organization_id)
        .order_by("pk")
        .values_list("pk", "order_id", "assigned_at")
    )
    owned_ids = {pk for pk, _, _ in owned}
    now = timezone.now()
    if owned:
        updated = PhoneNumber.objects.filter(
            pk__in=owned_ids, organization_id=organization_id
        ).update(**_release_values(now=now, return_to_carrier=return_to_carrier))
        if updated != len(owned):  # the rows are locked: cannot happen
            raise RuntimeError(f"released {updated} of {len(owned)} locked numbers")
        record_releases(
            kind=Kind.RETURNED if return_to_carrier else Kind.RELEASED,
            rows=[
                (pk, organization_id, order_id, assigned_at) for pk, order_id, assigned_at in owned
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
        PhoneNumber.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "number", "state", "organization_id", "order_id", "assigned_at")
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
