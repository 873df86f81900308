"""The webhooks app's answers to what lower apps announce (they cannot import it)."""

from webhooks import services


def record_bulk_order_completed(sender, order, **kwargs) -> None:
    services.bulk_order_completed(order=order)


def connect() -> None:
    from orders.signals import bulk_order_finished

    bulk_order_finished.connect(
        record_bulk_order_completed, dispatch_uid="webhooks.record_bulk_order_completed"
    )
