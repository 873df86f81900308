"""Owned-number and reservation tasks: thin, idempotent (the logic is in
phone_numbers.services.release and phone_numbers.services.reservations)."""

from celery import shared_task
from django.conf import settings

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
