"""The only code that claims inventory (available -> assigned). Two ways in:

- `claim_matching_numbers`: N numbers by criteria (bulk orders, fulfilment). On PostgreSQL one
  `WITH candidates AS (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE ... RETURNING`, so concurrent
  claims pass each other's locked rows instead of queueing on them, and a number can never be
  claimed twice. One statement whatever the quantity.
- `claim_listed_numbers`: these exact numbers (explicit orders), all or none.
- `reserve_listed_numbers`: hold these exact numbers for an organization (reservations), each
  one that is free; the others are reported.

Reservations: a held number carries (reservation, reserved_by, reserved_until). Every claim
compares reserved_until with now in its own statement, so a hold ends at its expiry without any
sweeper. A number another organization holds is invisible to search and to every claim; one the
caller holds is visible to its search and taken by its explicit orders (which marks it ordered
in the reservation); bulk claims and fulfilment take no held number, the caller's included: a
hold keeps specific numbers for an explicit order, and a bulk order by quantity must not spend
them behind the customer's back. Any claim clears the hold columns of what it assigns.

A claim writes no history row: the number row holds its assignment (organization, order,
assigned_at), and the release that ends it records it (phone_numbers.history).

All three must run inside the caller's transaction, after the caller locked the organization (lock
order: organization, then numbers). On SQLite there are no row locks; the embedded default's
IMMEDIATE transactions serialize writers, which gives the same guarantee.
"""

from dataclasses import dataclass, fields

from django.db import connection
from django.utils import timezone

from phone_numbers.locks import lock_numbers
from phone_numbers.models import PhoneNumber, Reservation, ReservationNumber

State = PhoneNumber.State


class _FromData:
    @classmethod
    def from_data(cls, data: dict):
        """From a validated request body (phone_numbers.serializers.CriteriaInput /
        RoutingInput), ignoring its other fields."""
        return cls(**{field.name: data.get(field.name) for field in fields(cls)})


@dataclass(frozen=True)
class Criteria(_FromData):
    """API.md §2.1, as validated by phone_numbers.serializers.CriteriaInput: digit strings only
    (vanity letters are already keypad digits; `contains` is `pattern`)."""

    number_type: str
    area_code: str | None = None
    exchange: str | None = None
    pattern: str | None = None
    starts_with: str | None = None
    ends_with: str | None = None
    features: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "features", tuple(sorted(self.features or ())))


@dataclass(frozen=True)
class Routing(_FromData):
    inbound_url: str | None = None
    status_url: str | None = None
    label: str | None = None


class NotEnoughNumbers(Exception):
    """The claim could not be filled; nothing was claimed."""

    def __init__(self, *, available_count: int, unavailable_numbers: list[str] | None = None):
        super().__init__(f"only {available_count} numbers available")
        self.available_count = available_count
        self.unavailable_numbers = unavailable_numbers


class ClaimLost(RuntimeError):
    """A locked, available row was not updated: the row lock is missing. Never expected."""


NUMBER_LENGTH = 12  # "+1" and the 10-digit national number
FEATURE_COLUMNS = {"sms": "sms_enabled", "mms": "mms_enabled", "voice": "voice_enabled"}


def prefix_range(prefix: str) -> tuple[str, str]:
    # Numbers are all NUMBER_LENGTH characters of "+1" and digits, so "starts with P" is the
    # closed range P00..0 - P99..9: a btree range under any collation (LIKE 'P%' is not
    # index-backed under the databases' C.UTF-8 collation without text_pattern_ops).
    pad = NUMBER_LENGTH - len(prefix)
    return prefix + "0" * pad, prefix + "9" * pad


def _suffix_range(digits: str) -> tuple[str, str]:
    # reverse("+14155552255") = "5522555141" + "1+": ends with D = reverse starts with
    # reverse(D), a range of the reverse(number) index (migration 0009).
    pad = NUMBER_LENGTH - 2 - len(digits)
    head = digits[::-1]
    return head + "0" * pad + "1+", head + "9" * pad + "1+"


def criteria_sql(criteria: Criteria, *, now, reserver_id=None) -> tuple[str, list]:
    """The WHERE clause (and its parameters) of every read and claim of available numbers: the
    one definition of what matches the criteria. Numbers held by a reservation that has not
    expired are excluded, except (with reserver_id) the reserver's own.

    Each criterion maps to an index on PostgreSQL (docs/inventory.md, Indexes): type + area
    code, exchange and starts_with are ranges of `number`; ends_with a range of
    reverse(number); contains is LIKE for the trigram index. The inputs are validated digit
    strings, so nothing needs LIKE escaping."""
    table = PhoneNumber._meta.db_table
    clauses = [f"{table}.state = %s", f"{table}.number_type = %s"]
    params: list = [State.AVAILABLE, criteria.number_type]
    area = criteria.area_code or ""
    if criteria.area_code:
        clauses.append(f"{table}.area_code = %s")
        params.append(criteria.area_code)
    elif criteria.starts_with:
        # The first digits of the national number are the area code's: say so, as a range of
        # area codes, and the type + area code index reads only those area codes. Without it
        # the planner walks that index from the first area code, filtering on `number`
        # (25 ms for starts_with "9" at 10 M numbers).
        head = criteria.starts_with[:3]
        clauses.append(f"{table}.area_code BETWEEN %s AND %s")
        params.extend([head.ljust(3, "0"), head.ljust(3, "9")])
    for digits in (criteria.exchange, criteria.starts_with):
        # Both are digits right after the area code (or, with no area code, starts_with is the
        # national number's first digits). Together, both ranges apply.
        if digits:
            clauses.append(f"{table}.number BETWEEN %s AND %s")
            params.extend(prefix_range(f"+1{area}{digits}"))
    if criteria.ends_with:
        clauses.append(f"reverse({table}.number) BETWEEN %s AND %s")
        params.extend(_suffix_range(criteria.ends_with))
    if criteria.pattern:
        # The digits must appear in the national number, not across the country code: that is
        # the substr() test. The trigram index serves the plain LIKE: '+1%digits%' would also
        # ask it for the trigram of the leading "1", which every number has, and reading that
        # posting list costs ~300 ms at 10 M numbers whatever the digits (docs/inventory.md).
        clauses.append(f"{table}.number LIKE %s AND substr({table}.number, 3) LIKE %s")
        params.extend([f"%{criteria.pattern}%"] * 2)
    for feature in criteria.features:
        clauses.append(f"{table}.{FEATURE_COLUMNS[feature]}")
    db_now = connection.ops.adapt_datetimefield_value(now)
    if reserver_id is None:
        clauses.append(f"({table}.reserved_until IS NULL OR {table}.reserved_until <= %s)")
        params.append(db_now)
    else:
        clauses.append(
            f"({table}.reserved_until IS NULL OR {table}.reserved_until <= %s "
            f"OR {table}.reserved_by_id = %s)"
        )
        params.extend([db_now, _db_uuid(reserver_id)])
    return " AND ".join(clauses), params


def _db_uuid(value):
    return PhoneNumber._meta.pk.get_db_prep_value(value, connection)


def _assign_sql(table: str) -> str:
    return (
        f"UPDATE {table} SET state = %s, organization_id = %s, order_id = %s, "
        "inbound_url = %s, status_url = %s, label = %s, assigned_at = %s, updated_at = %s, "
        "quarantine_ends_at = NULL, reservation_id = NULL, reserved_by_id = NULL, "
        "reserved_until = NULL "
    )


def _assign_params(organization_id, order_id, routing: Routing, now) -> list:
    # Raw SQL bypasses the fields' adaptation: SQLite stores UUIDs as 32 hex characters and
    # datetimes as naive UTC text, so adapt the values the way the ORM would.
    as_db_uuid = PhoneNumber._meta.pk.get_db_prep_value
    db_now = connection.ops.adapt_datetimefield_value(now)
    return [
        State.ASSIGNED,
        as_db_uuid(organization_id, connection),
        as_db_uuid(order_id, connection),
        routing.inbound_url,
        routing.status_url,
        routing.label,
        db_now,
        db_now,
    ]


def count_matching_available(criteria: Criteria, *, limit: int | None = None) -> int:
    """How many numbers a bulk claim with these criteria could take now (one query); with
    `limit`, counting stops there, so a quote for 10 numbers does not count ten million."""
    where, params = criteria_sql(criteria, now=timezone.now())
    table = PhoneNumber._meta.db_table
    sql = f"SELECT COUNT(*) FROM {table} WHERE {where}"
    if limit is not None:
        sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {where} LIMIT %s) AS capped"
        params = [*params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def claim_matching_numbers(
    *,
    organization_id,
    criteria: Criteria,
    quantity: int,
    routing: Routing = Routing(),
    order_id=None,
    all_or_nothing: bool = True,
) -> list[str]:
    """Claim `quantity` available numbers matching `criteria` for the organization and return
    them (E.164, sorted). With all_or_nothing, a shortfall raises NotEnoughNumbers and claims
    nothing; otherwise it claims what there is (fulfilment tops up from inventory this way)."""
    assert connection.in_atomic_block, "claims run inside the caller's transaction"
    table = PhoneNumber._meta.db_table
    now = timezone.now()
    where, where_params = criteria_sql(criteria, now=now)
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    # One statement, no savepoint: the candidates are selected (and locked) once, and with
    # all_or_nothing the UPDATE applies only when there are `quantity` of them, so a shortfall
    # assigns nothing. (A savepoint around the claim cost two more round trips per order.)
    enough = " AND (SELECT COUNT(*) FROM candidates) = %s" if all_or_nothing else ""
    sql = (
        f"WITH candidates AS MATERIALIZED (SELECT id FROM {table} WHERE {where} LIMIT %s{lock}) "
        if connection.vendor == "postgresql"
        else f"WITH candidates AS (SELECT id FROM {table} WHERE {where} LIMIT %s) "
    )
    sql += _assign_sql(table) + f"WHERE id IN (SELECT id FROM candidates){enough} RETURNING number"
    params = _assign_params(organization_id, order_id, routing, now)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [*where_params, quantity, *params, *([quantity] if all_or_nothing else [])],
        )
        claimed = [row[0] for row in cursor.fetchall()]
    if all_or_nothing and len(claimed) < quantity:
        # Nothing was assigned. The candidates this claim locked are still available, and
        # counted as such.
        raise NotEnoughNumbers(available_count=count_matching_available(criteria))
    return sorted(claimed)


def _held_by_other(reserved_by_id, reserved_until, organization_id, now) -> bool:
    return reserved_until is not None and reserved_until > now and reserved_by_id != organization_id


def claim_listed_numbers(
    *, organization_id, numbers: list[str], routing: Routing = Routing(), order_id=None
) -> list[str]:
    """Claim exactly these numbers, all or none. Locks them in primary-key order (so two
    overlapping orders cannot deadlock), then assigns them if every one is available and not
    held by another organization's active reservation; otherwise raises NotEnoughNumbers naming
    the ones that are not, and claims nothing. Numbers the organization itself holds are taken
    from its reservations (marked ordered; a reservation whose every number was ordered becomes
    `ordered`)."""
    assert connection.in_atomic_block, "claims run inside the caller's transaction"
    wanted = set(numbers)
    now = timezone.now()
    locked = list(
        lock_numbers(number__in=wanted).values_list(
            "pk", "number", "state", "reservation_id", "reserved_by_id", "reserved_until"
        )
    )
    available, own_holds = {}, set()
    for pk, number, state, reservation_id, reserved_by_id, reserved_until in locked:
        if state != State.AVAILABLE:
            continue
        if _held_by_other(reserved_by_id, reserved_until, organization_id, now):
            continue
        available[number] = pk
        if reservation_id is not None and reserved_until > now:
            own_holds.add(reservation_id)
    unavailable = sorted(wanted - set(available))
    if unavailable:
        raise NotEnoughNumbers(available_count=len(available), unavailable_numbers=unavailable)
    updated = PhoneNumber.objects.filter(pk__in=available.values(), state=State.AVAILABLE).update(
        state=State.ASSIGNED,
        organization_id=organization_id,
        order_id=order_id,
        inbound_url=routing.inbound_url,
        status_url=routing.status_url,
        label=routing.label,
        assigned_at=now,
        updated_at=now,
        quarantine_ends_at=None,
        reservation=None,
        reserved_by=None,
        reserved_until=None,
    )
    if updated != len(available):
        # Cannot happen while the rows above are locked; if someone removes the lock, fail
        # loudly (the caller's transaction rolls back) rather than sell a number twice.
        raise ClaimLost(f"claimed {updated} of {len(available)} locked numbers")
    if own_holds:
        _mark_ordered(own_holds, available.values(), now)
    return sorted(wanted)


def _mark_ordered(reservation_ids, number_pks, now) -> None:
    ReservationNumber.objects.filter(
        reservation_id__in=reservation_ids, phone_number_id__in=list(number_pks)
    ).update(ordered_at=now)
    # Every number of it ordered: the reservation ended by being ordered.
    Reservation.objects.filter(pk__in=reservation_ids, status=Reservation.Status.ACTIVE).exclude(
        numbers__ordered_at__isnull=True
    ).update(status=Reservation.Status.ORDERED, ended_at=now)


def reserve_listed_numbers(*, reservation: Reservation, numbers: list[str], max_active: int):
    """Hold, for `reservation` (saved, active, in the caller's transaction), each of these
    numbers that is available and not held by an unexpired reservation (the organization's own
    other holds included). Locks the candidates in primary-key order, as claim_listed_numbers
    does, so overlapping reservations neither deadlock nor both get a number: a number is held
    by at most one reservation at a time. The caller must have locked the organization first
    (lock order: organization, then numbers), which also makes the cap check below exact.

    Returns (reserved, unavailable), both sorted. Raises ReservationCapExceeded, holding
    nothing, if the organization would hold more than `max_active` unexpired numbers."""
    assert connection.in_atomic_block, "reservations run inside the caller's transaction"
    now = timezone.now()
    wanted = set(numbers)
    locked = list(
        lock_numbers(number__in=wanted).values_list("pk", "number", "state", "reserved_until")
    )
    free = {
        number: pk
        for pk, number, state, reserved_until in locked
        if state == State.AVAILABLE and (reserved_until is None or reserved_until <= now)
    }
    if free:
        held = PhoneNumber.objects.filter(
            reserved_by_id=reservation.organization_id, reserved_until__gt=now
        ).count()
        if held + len(free) > max_active:
            raise ReservationCapExceeded(held=held, requested=len(free), maximum=max_active)
        PhoneNumber.objects.filter(pk__in=free.values()).update(
            reservation=reservation,
            reserved_by_id=reservation.organization_id,
            reserved_until=reservation.expires_at,
        )
        ReservationNumber.objects.bulk_create(
            [
                ReservationNumber(reservation=reservation, phone_number_id=pk, number=number)
                for number, pk in sorted(free.items())
            ]
        )
    return sorted(free), sorted(wanted - set(free))


class ReservationCapExceeded(Exception):
    def __init__(self, *, held: int, requested: int, maximum: int):
        super().__init__(f"{held} held + {requested} requested > {maximum}")
        self.held, self.requested, self.maximum = held, requested, maximum
