"""What staff do to prices and inventory from the back office, audited (accounts.StaffAction)
in the same transaction as the change."""

from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts.audit import Action, record_staff_action
from phone_numbers.inventory_csv import CsvValidation
from phone_numbers.models import NumberPrice, PhoneNumber
from phone_numbers.services import inventory_add

IMPORT_PERMISSION = "phone_numbers.add_phonenumber"


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
