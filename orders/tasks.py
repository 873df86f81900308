"""Bulk-order fulfilment tasks: thin, by id, idempotent (the logic is in orders.services)."""

import random

from celery import shared_task
from django.db import OperationalError

from orders import services
from phone_numbers.carriers import CarrierError

# Never schedule further ahead than this: the Redis broker's visibility_timeout (settings) must
# stay longer than any countdown, or a waiting message would be delivered twice.
MAX_RECHECK_SECONDS = 300
MAX_RETRIES = 12  # then the stalled-order sweeper picks the order up again


def _backoff(retries: int, error: Exception) -> float:
    """Exponential backoff with full jitter on top (2, 4, 8 ... s, at most 300 s), never sooner
    than the carrier asked (a 429's x-ratelimit-reset)."""
    base = min(2 * 2**retries, MAX_RECHECK_SECONDS)
    countdown = base / 2 + random.uniform(0, base / 2)
    asked = getattr(error, "retry_after_seconds", None) or 0
    return min(max(countdown, asked + random.uniform(0, 1)), MAX_RECHECK_SECONDS)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def fulfil_bulk_order(self, order_id: str) -> None:
    """Advance one backordered order; while the carrier is still working on it, check back
    after the delay it asks for (a new message with a countdown, not a sleeping worker)."""
    try:
        recheck_after = services.bulk_order_fulfil(order_id=order_id)
    except (CarrierError, OperationalError) as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, exc)) from exc
    if recheck_after is not None:
        fulfil_bulk_order.apply_async(
            (order_id,), countdown=min(recheck_after, MAX_RECHECK_SECONDS)
        )


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
