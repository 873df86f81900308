from celery import shared_task

from api.idempotency import purge_expired_keys


@shared_task
def purge_expired_idempotency_keys() -> int:
    """Periodic (beat): delete Idempotency-Keys older than IDEMPOTENCY_KEY_TTL_HOURS."""
    return purge_expired_keys()
