"""Bulk-order fulfilment tasks: thin, by id, idempotent (the logic is in orders.services)."""

import math

import structlog
from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from orders import services
from phone_numbers.carriers import CarrierError


@shared_task(
    bind=True,
    autoretry_for=(CarrierError, OperationalError),
    retry_backoff=2,  # 2, 4, 8 ... seconds
    # A countdown like the re-checks, bounded the same way (the Redis visibility-timeout rule).
    retry_backoff_max=settings.BULK_ORDER_MAX_RECHECK_SECONDS,
    retry_jitter=True,
    max_retries=12,  # then the stalled-order sweeper picks the order up again
)
def fulfil_bulk_order(self, order_id: str) -> None:
    """Advance one backordered order; while the carrier is still working on it, check back
    after the delay it asks for (a new message with a countdown, not a sleeping worker)."""
    # Every line of this task (Celery's own included) says which order it worked on; the
    # context is cleared after the task (api.logging).
    structlog.contextvars.bind_contextvars(order_id=order_id)
    recheck_after = services.bulk_order_fulfil(order_id=order_id)
    if recheck_after is not None:
        # Whole seconds, at least 1: RabbitMQ's native delayed delivery (quorum queues) routes
        # by int(countdown) and refuses 0 ("countdown must be a positive number").
        countdown = max(1, math.ceil(min(recheck_after, settings.BULK_ORDER_MAX_RECHECK_SECONDS)))
        fulfil_bulk_order.apply_async((order_id,), countdown=countdown)


@shared_task
def resume_stalled_bulk_orders() -> int:
    """Periodic (beat): resume processing orders with no progress for a while."""
    return len(services.bulk_orders_resume_stalled())


@shared_task
def end_overdue_bulk_orders() -> int:
    """Periodic (beat): end processing orders whose fill_by passed, as a cancel ends them."""
    return len(services.bulk_orders_end_overdue())
