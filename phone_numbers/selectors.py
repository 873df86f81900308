"""Reads of inventory, prices and owned numbers."""

from django.db import connection
from django.utils import timezone

from api.errors import NotFound
from phone_numbers.allocation import FEATURE_COLUMNS, Criteria, criteria_sql
from phone_numbers.models import (
    NumberPrice,
    NumberType,
    PhoneNumber,
    PhoneNumberEvent,
    Reservation,
)


class PriceMissing(LookupError):
    """No price row for a number type: a configuration error (the data migration creates them)."""


def prices_by_type() -> dict[str, int]:
    """Every number type's price in cents, in one query, read on every sale (a staff edit applies
    to the next order). Hand-written: compiling the ORM's version cost more than running it
    (api.sql)."""
    table = connection.ops.quote_name(NumberPrice._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT number_type, price_cents FROM {table}")
        return dict(cursor.fetchall())


def price_of(prices: dict[str, int], number_type: str) -> int:
    """One number's price from prices_by_type(), the one price lookup of every sale and quote."""
    return checked_price(prices.get(number_type), number_type)


def price_sql(number_type: str) -> tuple[str, list]:
    """One number type's price as a scalar subquery and its parameters, for a statement that
    reads it along with something else (a bulk order reads it with its organization's lock,
    accounts.services.lock_organization_reading). Its value is NULL without a price row."""
    table = connection.ops.quote_name(NumberPrice._meta.db_table)
    return f"SELECT price_cents FROM {table} WHERE number_type = %s", [number_type]


def checked_price(price: int | None, number_type: str) -> int:
    """The price read by price_sql or from prices_by_type(); PriceMissing if there was none."""
    if price is None:
        raise PriceMissing(f"no price for number type {number_type!r}")
    return price


def search_sql(*, criteria: Criteria, quantity: int, organization_id, now) -> tuple[str, list]:
    """The search statement (also what the EXPLAIN tests read)."""
    where, params = criteria_sql(criteria, now=now, reserver_id=organization_id)
    columns = ", ".join(["number", "number_type", "area_code", *FEATURE_COLUMNS.values()])
    # No ORDER BY: any matching rows will do, and LIMIT lets the scan stop early.
    sql = f"SELECT {columns} FROM {PhoneNumber._meta.db_table} WHERE {where} LIMIT %s"
    return sql, [*params, quantity]


def available_numbers_search(*, criteria: Criteria, quantity: int, organization_id) -> list[dict]:
    """Up to `quantity` available numbers matching the criteria, sorted by number, each with
    its features. Reserves nothing: another request may claim them a moment later. Numbers
    another organization holds are not shown; the caller's own holds are (its explicit order
    can take them). Same WHERE clause as allocation (criteria_sql)."""
    sql, params = search_sql(
        criteria=criteria, quantity=quantity, organization_id=organization_id, now=timezone.now()
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    rows = [
        {
            "number": number,
            "number_type": number_type,
            "area_code": area_code,
            "features": [
                name for name, enabled in zip(FEATURE_COLUMNS, flags, strict=True) if enabled
            ],
        }
        for number, number_type, area_code, *flags in fetched
    ]
    return sorted(rows, key=lambda row: row["number"])


def reservation_get(*, organization_id, reservation_id) -> Reservation:
    """One of the organization's reservations with its numbers; NotFound for any other id."""
    reservation = (
        Reservation.objects.filter(organization_id=organization_id, pk=reservation_id)
        .prefetch_related("numbers")
        .first()
    )
    if reservation is None:
        raise NotFound()
    return reservation


# --- Owned numbers ---------------------------------------------------------------------------


def owned_numbers(*, organization):
    """The organization's numbers (a number has an organization exactly when it is assigned:
    a database constraint). Served by phonenumber_owned_idx (organization, assigned_at, id)."""
    return PhoneNumber.objects.filter(organization=organization)


def number_history(number: PhoneNumber) -> list[PhoneNumberEvent]:
    """A number's history, oldest first, with who and which order (for the admin). The
    `assigned` entries are derived, not stored: each release or return records the assignment
    it ended, and the number row holds the current one (allocation writes no event)."""
    stored = PhoneNumberEvent.objects.filter(number=number).select_related(
        "organization", "api_key", "staff_user"
    )
    timeline = []
    for event in stored:
        if event.kind in PhoneNumberEvent.RELEASE_KINDS and event.assigned_at:
            timeline.append(
                _assignment(number, event.assigned_at, event.organization, event.order_id)
            )
        timeline.append(event)
    if number.state == PhoneNumber.State.ASSIGNED and number.assigned_at:
        timeline.append(
            _assignment(number, number.assigned_at, number.organization, number.order_id)
        )
    return sorted(timeline, key=lambda entry: entry.at)


def _assignment(number, at, organization, order_id) -> PhoneNumberEvent:
    # An unsaved event: the admin renders it like the stored ones.
    return PhoneNumberEvent(
        number=number,
        kind=PhoneNumberEvent.Kind.ASSIGNED,
        organization=organization,
        order_id=order_id,
        at=at,
    )


def available_counts_by_type(*, cap: int) -> dict[str, int]:
    """Available inventory per number type, counted up to `cap` (a type with more reads as
    `cap`). One query per type, each reading at most `cap` entries of the partial index of
    available numbers (an index-only scan that stops at LIMIT): an exact count of a million
    available numbers reads the whole index, half a second, and an alert on low inventory
    needs exact figures only when they are low."""
    available = PhoneNumber.objects.filter(state=PhoneNumber.State.AVAILABLE).order_by()
    return {
        number_type: available.filter(number_type=number_type).values("number")[:cap].count()
        for number_type in NumberType.values
    }
