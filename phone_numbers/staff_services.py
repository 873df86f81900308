"""What staff do to prices and inventory from the back office, audited (accounts.StaffAction)
in the same transaction as the change."""

from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts.audit import Action, record_staff_action
from phone_numbers.inventory_csv import CsvValidation
from phone_numbers.models import NumberPrice, PhoneNumber, Reservation
from phone_numbers.services.inventory import inventory_add
from phone_numbers.services.release import StaffReleaseOutcome, numbers_release_by_staff
from phone_numbers.services.reservations import reservation_release

IMPORT_PERMISSION = "phone_numbers.add_phonenumber"
RELEASE_PERMISSION = "phone_numbers.release_phonenumber"
RESERVATION_RELEASE_PERMISSION = "phone_numbers.release_reservation"


@transaction.atomic
def staff_price_change(*, user, number_type: str, price_cents: int) -> NumberPrice:
    """Set the price of a number type (superusers only; numbers assigned from now on pay it).
    Audited with the old and new price; a price set to what it already is writes nothing."""
    if not user.is_superuser:
        raise PermissionDenied
    if price_cents < 0:
        raise ValueError("a price cannot be negative")
    price = NumberPrice.objects.select_for_update().get(number_type=number_type)
    old = price.price_cents
    if old == price_cents:
        return price
    price.price_cents = price_cents
    price.save(update_fields=["price_cents", "updated_at"])
    record_staff_action(
        user=user,
        action=Action.PRICE_CHANGE,
        target=price,
        details={"number_type": number_type, "old_cents": old, "new_cents": price_cents},
    )
    return price


@transaction.atomic
def staff_inventory_import(*, user, validation: CsvValidation, filename: str) -> int:
    """Add the rows of a validated inventory CSV (phone_numbers.inventory_csv, as the
    import_inventory command does) through inventory_add, and audit it; returns how many were
    added (numbers already in inventory are skipped). A file with any bad line raises
    ValueError and adds nothing. One transaction: the import and its audit row commit together
    (the admin caps the upload size, see ADMIN_CSV_MAX_BYTES)."""
    if not user.has_perm(IMPORT_PERMISSION):
        raise PermissionDenied
    if not validation.ok:
        raise ValueError(f"{len(validation.errors)} bad line(s); nothing imported")
    added = inventory_add(validation.rows)
    record_staff_action(
        user=user,
        action=Action.INVENTORY_IMPORT,
        target_type=PhoneNumber._meta.label_lower,
        target_repr=f"CSV file {filename}",
        details={
            "filename": filename,
            "rows": len(validation.rows),
            "added": added,
            "skipped": len(validation.rows) - added,
        },
    )
    return added


@transaction.atomic
def staff_numbers_release(
    *, user, number_ids, reason: str, return_to_carrier: bool = False
) -> StaffReleaseOutcome:
    """Release numbers from their owners (needs phone_numbers.release_phonenumber) or return
    them to the carrier (superusers only), through numbers_release_by_staff, and audit it with
    the reason in the same transaction."""
    if return_to_carrier and not user.is_superuser:
        raise PermissionDenied
    if not user.has_perm(RELEASE_PERMISSION):
        raise PermissionDenied
    if not reason.strip():
        raise ValueError("a release needs a reason")
    outcome = numbers_release_by_staff(
        number_ids=number_ids,
        staff_user_id=user.pk,
        return_to_carrier=return_to_carrier,
        note=reason,
    )
    if outcome.changed:
        record_staff_action(
            user=user,
            action=Action.NUMBERS_RETURN if return_to_carrier else Action.NUMBERS_RELEASE,
            target_type=PhoneNumber._meta.label_lower,
            target_repr=", ".join(outcome.changed[:5])
            + (f" and {len(outcome.changed) - 5} more" if len(outcome.changed) > 5 else ""),
            reason=reason,
            details={"numbers": outcome.changed, "skipped": outcome.skipped},
        )
    return outcome


@transaction.atomic
def staff_reservation_release(*, user, reservation_id, reason: str) -> Reservation:
    """Release an active reservation from the back office (needs
    phone_numbers.release_reservation): its numbers are free at once. Audited in the same
    transaction; one that already ended is left as it is and not audited."""
    if not user.has_perm(RESERVATION_RELEASE_PERMISSION):
        raise PermissionDenied
    organization_id = (
        Reservation.objects.filter(pk=reservation_id)
        .values_list("organization_id", flat=True)
        .get()
    )
    before = Reservation.objects.get(pk=reservation_id).effective_status()
    reservation = reservation_release(
        organization_id=organization_id, reservation_id=reservation_id, staff_user=user
    )
    if before == Reservation.Status.ACTIVE:
        record_staff_action(
            user=user,
            action=Action.RESERVATION_RELEASE,
            target=reservation,
            reason=reason,
            details={"numbers": list(reservation.numbers.values_list("number", flat=True))},
        )
    return reservation
