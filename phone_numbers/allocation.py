"""The only code that claims inventory (available -> assigned). Two ways in:

- `claim_matching_numbers`: N numbers by criteria (bulk orders, fulfilment). On PostgreSQL one
  `WITH candidates AS (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE ... RETURNING`, so concurrent
  claims pass each other's locked rows instead of queueing on them, and a number can never be
  claimed twice. One statement whatever the quantity.
- `claim_listed_numbers`: these exact numbers (explicit orders), all or none.

A claim writes no history row: the number row holds its assignment (organization, order,
assigned_at), and the release that ends it records it (phone_numbers.history).

Both must run inside the caller's transaction, after the caller locked the organization (lock
order: organization, then numbers). On SQLite there are no row locks; the embedded default's
IMMEDIATE transactions serialize writers, which gives the same guarantee.
"""

from dataclasses import dataclass, fields

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from phone_numbers.locks import lock_numbers
from phone_numbers.models import PhoneNumber

State = PhoneNumber.State


class _FromData:
    @classmethod
    def from_data(cls, data: dict):
        """From a validated request body (phone_numbers.serializers.CriteriaInput /
        RoutingInput), ignoring its other fields."""
        return cls(**{field.name: data.get(field.name) for field in fields(cls)})


@dataclass(frozen=True)
class Criteria(_FromData):
    number_type: str
    area_code: str | None = None
    pattern: str | None = None


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


def pattern_condition(pattern: str) -> Q:
    """`pattern` is a substring of the number's digits. The pattern is validated as 1-10 ASCII
    digits and an E.164 number is '+' then digits, so a substring of the number is a substring
    of its digits. On PostgreSQL `LIKE '%415%'` uses the pg_trgm index (3+ digits)."""
    return Q(number__contains=pattern)


def _criteria_sql(criteria: Criteria) -> tuple[str, list]:
    clauses, params = ["state = %s", "number_type = %s"], [State.AVAILABLE, criteria.number_type]
    if criteria.area_code:
        clauses.append("area_code = %s")
        params.append(criteria.area_code)
    if criteria.pattern:
        # Same rule as pattern_condition. The pattern is validated as 1-10 ASCII digits:
        # nothing in it needs LIKE escaping.
        clauses.append("number LIKE %s")
        params.append(f"%{criteria.pattern}%")
    return " AND ".join(clauses), params


def _assign_sql(table: str) -> str:
    return (
        f"UPDATE {table} SET state = %s, organization_id = %s, order_id = %s, "
        "inbound_url = %s, status_url = %s, label = %s, assigned_at = %s, updated_at = %s, "
        "quarantine_ends_at = NULL "
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
    """How many available numbers match (one query); with `limit`, counting stops there, so a
    quote for 10 numbers does not count ten million."""
    where, params = _criteria_sql(criteria)
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
    where, where_params = _criteria_sql(criteria)
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
    params = _assign_params(organization_id, order_id, routing, timezone.now())
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


def claim_listed_numbers(
    *, organization_id, numbers: list[str], routing: Routing = Routing(), order_id=None
) -> list[str]:
    """Claim exactly these numbers, all or none. Locks them in primary-key order (so two
    overlapping orders cannot deadlock), then assigns them if every one is available; otherwise
    raises NotEnoughNumbers naming the ones that are not, and claims nothing."""
    assert connection.in_atomic_block, "claims run inside the caller's transaction"
    wanted = set(numbers)
    locked = list(lock_numbers(number__in=wanted).values_list("pk", "number", "state"))
    available = {number: pk for pk, number, state in locked if state == State.AVAILABLE}
    unavailable = sorted(wanted - set(available))
    if unavailable:
        raise NotEnoughNumbers(available_count=len(available), unavailable_numbers=unavailable)
    now = timezone.now()
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
    )
    if updated != len(available):
        # Cannot happen while the rows above are locked; if someone removes the lock, fail
        # loudly (the caller's transaction rolls back) rather than sell a number twice.
        raise ClaimLost(f"claimed {updated} of {len(available)} locked numbers")
    return sorted(wanted)
