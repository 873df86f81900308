"""What staff do to webhook deliveries from the back office: webhooks.services, audited
(accounts.StaffAction) in the same transaction."""

from django.db import transaction

from accounts.audit import Action, record_staff_action
from webhooks import services
from webhooks.models import WebhookDelivery


@transaction.atomic
def staff_delivery_redeliver(*, user, delivery_id) -> bool:
    """delivery_redeliver, audited. False, and no audit row, for a delivered delivery."""
    if not services.delivery_redeliver(delivery_id=delivery_id):
        return False
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    record_staff_action(
        user=user,
        action=Action.WEBHOOK_REDELIVER,
        target=delivery,
        details={"event": str(delivery.event_id), "endpoint": str(delivery.endpoint_id)},
    )
    return True


@transaction.atomic
def staff_endpoint_update(*, user, endpoint, **fields) -> dict:
    """webhook_endpoint_update for a staff user (fields validated like the API's, by the admin
    form), audited with the old and new values of what changed. No change, no audit row."""
    endpoint, changes = services.webhook_endpoint_update(endpoint=endpoint, **fields)
    if changes:
        record_staff_action(
            user=user,
            action=Action.WEBHOOK_ENDPOINT_CHANGE,
            target=endpoint,
            details={
                field: {"old": old, "new": new} for field, (old, new) in sorted(changes.items())
            },
        )
    return changes
