"""Writing a number's history (PhoneNumberEvent) from the code that changes its state, in one
statement per batch whatever its size, so claims, releases and the quarantine sweeper keep a
constant number of queries."""

from django.db import connection

from phone_numbers.models import PhoneNumber, PhoneNumberEvent


def record_from_rows(
    *, kind: str, number_ids, at_column: str = "updated_at", copy_owner: bool = True
) -> None:
    """One history row per number in `number_ids`, taking the time from the row's `at_column`
    and, with copy_owner, its current organization and order (assigned: the new owner and the
    order). One `INSERT ... SELECT`, whatever the count."""
    if not number_ids:
        return
    assert at_column in ("assigned_at", "updated_at")
    as_db_uuid = PhoneNumber._meta.pk.get_db_prep_value
    ids = [as_db_uuid(number_id, connection) for number_id in number_ids]
    placeholders = ", ".join(["%s"] * len(ids))
    owner = "organization_id, order_id" if copy_owner else "NULL, NULL"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {PhoneNumberEvent._meta.db_table} "
            "(number_id, kind, organization_id, order_id, request_id, note, at) "
            f"SELECT id, %s, {owner}, '', '', {at_column} "
            f"FROM {PhoneNumber._meta.db_table} WHERE id IN ({placeholders})",
            [kind, *ids],
        )


def record_releases(
    *,
    kind: str,
    rows: list[tuple],
    at,
    api_key_id=None,
    staff_user_id=None,
    request_id: str = "",
    note: str = "",
) -> None:
    """One history row per released number: `rows` are (number_id, organization_id, order_id,
    assigned_at) read before the release cleared the owner, so the row records the assignment
    it ends. One INSERT for up to 100 numbers (the API's
    largest batch)."""
    PhoneNumberEvent.objects.bulk_create(
        [
            PhoneNumberEvent(
                number_id=number_id,
                kind=kind,
                organization_id=organization_id,
                order_id=order_id,
                api_key_id=api_key_id,
                staff_user_id=staff_user_id,
                request_id=request_id[:26],
                note=note[:500],
                at=at,
                assigned_at=assigned_at,
            )
            for number_id, organization_id, order_id, assigned_at in rows
        ]
    )
