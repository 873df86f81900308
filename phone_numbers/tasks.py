"""Owned-number and reservation tasks: thin, idempotent (the logic is in
phone_numbers.services.release and phone_numbers.services.reservations)."""

from celery import shared_task
from django.conf import settings

from phone_numbers.carriers import CarrierError
from phone_numbers.services import release, reservations


@shared_task
def end_quarantines() -> int:
    """Periodic (beat, every NUMBER_QUARANTINE_SWEEP_SECONDS): numbers whose quarantine has
    ended become available again. Safe to run twice or on several workers at once."""
    return release.quarantines_end(batch_size=settings.NUMBER_QUARANTINE_SWEEP_BATCH_SIZE)


@shared_task
def tidy_expired_reservations() -> int:
    """Periodic (beat, every RESERVATION_TIDY_SECONDS): write expired reservations down and
    clear their numbers' hold columns. Bookkeeping only: a claim already treats an expired hold
    as free. Safe to run twice or concurrently."""
    return reservations.reservations_tidy()


@shared_task(bind=True, max_retries=12, retry_backoff=True, retry_jitter=True)
def return_numbers_to_carrier(self, numbers: list[str]) -> int:
    """Delete returned numbers from our carrier account (enqueued after the release commits).
    Safe to run twice: a number the carrier no longer holds for us is skipped."""
    try:
        return release.carrier_numbers_return(numbers=numbers)
    except CarrierError as exc:
        countdown = max(2 ** (self.request.retries + 1), exc.retry_after_seconds or 0)
        raise self.retry(exc=exc, countdown=min(countdown, 300)) from exc
