"""Webhook endpoints, events and deliveries (API.md §5)."""


def bulk_order_completed(*, order) -> None:
    """Record the phone_number.bulk_order.completed event for a backordered order that just
    reached a terminal status, and schedule its deliveries after commit. Called by
    orders.services inside the transaction that ends the order, exactly once per order.

    Not built yet: the webhooks issue (#8) implements it; until then no event is sent."""
