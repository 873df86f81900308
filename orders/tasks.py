"""Bulk-order fulfilment tasks: thin, by id, idempotent (the logic is in orders.services)."""

import math
import random

import structlog
from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from orders import services
from phone_numbers.carriers import CarrierError

MAX_RETRIES = 12  # then the stalled-order sweeper picks the order up again


def _backoff(retries: int, error: Exception) -> float:
    """Exponential backoff with jitter (2, 4, 8 ... s), never sooner than the carrier asked (a
    429's x-ratelimit-reset), at most BULK_ORDER_MAX_RECHECK_SECONDS (the Redis
    visibility-timeout rule), in whole seconds of at least 1 (RabbitMQ's delayed delivery)."""
    longest = settings.BULK_ORDER_MAX_RECHECK_SECONDS
    base = min(2 * 2**retries, longest)
    countdown = base / 2 + random.uniform(0, base / 2)
    asked = getattr(error, "retry_after_seconds", None) or 0
    return max(1, math.ceil(min(max(countdown, asked + random.uniform(0, 1)), longest)))


@shared_task(bind=True, max_retries=MAX_RETRIES)
def fulfil_bulk_order(self, order_id: str) -> None:
    """Advance one backordered order; while the carrier is still working on it, check back
    after the delay it asks for (a new message with a countdown, not a sleeping worker)."""
    # Every line of this task (Celery's own included) says which order it worked on; the
    # context is cleared after the task (api.logging).
    structlog.contextvars.bind_contextvars(order_id=order_id)
    try:
        recheck_after = services.bulk_order_fulfil(order_id=order_id)
    except (CarrierError, OperationalError) as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, exc)) from exc
    if recheck_after is not None:
        # Whole seconds, at least 1: RabbitMQ's native delayed delivery (quorum queues) routes
        # by int(countdown) and refuses 0 ("countdown must be a positive number").
        countdown = max(1, math.ceil(min(recheck_after, settings.BULK_ORDER_MAX_RECHECK_SECONDS)))
        fulfil_bulk_order.apply_async((order_id,), countdown=countdown)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def cancel_carrier_orders(self, order_id: str) -> None:
    """Cancel at the carrier what is still pending of an ended order's placements."""
    try:
        services.carrier_orders_cancel(order_id=order_id)
    except (CarrierError, OperationalError) as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, exc)) from exc


@shared_task
def resume_stalled_bulk_orders() -> int:
    """Periodic (beat): resume processing orders with no progress for a while."""
    return len(services.bulk_orders_resume_stalled())


@shared_task
def end_overdue_bulk_orders() -> int:
    """Periodic (beat): end processing orders whose fill_by passed, as a cancel ends them."""
    return len(services.bulk_orders_end_overdue())
