"""The back-office audit log: who changed what, when and why. Staff entry points
(<app>/staff_services.py) call `record_staff_action` inside the transaction of the change, so a
change and its audit row are committed together or not at all."""

from django.db import models, transaction

from accounts.models import StaffAction

Action = StaffAction.Action


def record_staff_action(
    *,
    user,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_repr: str = "",
    reason: str = "",
    details: dict | None = None,
) -> StaffAction:
    """Write one audit row for `target` as it is now (or, for a change with no single row such
    as a file import, for the given target_type and target_repr). Must run inside the change's
    transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_staff_action must run inside the transaction of the change")
    if target is not None:
        target_type, target_repr = target._meta.label_lower, str(target)
    return StaffAction.objects.create(
        user=user,
        action=action,
        target_type=target_type,
        target_id=str(target.pk) if target is not None else "",
        target_repr=target_repr[:200],
        reason=reason,
        details=details or {},
    )
