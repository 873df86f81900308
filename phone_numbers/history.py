"""Writing a number's history (PhoneNumberEvent) from the code that changes its state, in one
INSERT per batch, so releases and the quarantine sweeper keep a constant number of queries.
Claims write none (phone_numbers.selectors.number_history derives assignments)."""

from phone_numbers.models import PhoneNumberEvent


def record_quarantines_ended(*, number_ids, at) -> None:
    """One `quarantine_ended` row per number the sweeper made available again, in batched
    INSERTs (the sweeper's batch can be large)."""
    PhoneNumberEvent.objects.bulk_create(
        [
            PhoneNumberEvent(
                number_id=number_id, kind=PhoneNumberEvent.Kind.QUARANTINE_ENDED, at=at
            )
            for number_id in number_ids
        ],
        batch_size=1000,
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
