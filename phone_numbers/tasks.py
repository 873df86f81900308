"""Owned-number tasks: thin, idempotent (the logic is in phone_numbers.services.release)."""

from celery import shared_task
from django.conf import settings

from phone_numbers.services import release


@shared_task
def end_quarantines() -> int:
    """Periodic (beat, every NUMBER_QUARANTINE_SWEEP_SECONDS): numbers whose quarantine has
    ended become available again. Safe to run twice or on several workers at once."""
    return release.quarantines_end(batch_size=settings.NUMBER_QUARANTINE_SWEEP_BATCH_SIZE)
