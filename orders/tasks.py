from celery import shared_task

from orders.idempotency import purge_expired_keys


@shared_task
def purge_expired_idempotency_keys():
    return purge_expired_keys()
