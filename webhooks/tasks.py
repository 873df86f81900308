from celery import shared_task

from webhooks import services


@shared_task(soft_time_limit=45, time_limit=55)
def deliver_webhook(delivery_id: str) -> None:
    """One attempt of one delivery; the service schedules the next one on failure. The time
    limits stay under the service's 60-second send lease."""
    services.delivery_attempt(delivery_id=delivery_id)


@shared_task
def enqueue_overdue_webhooks() -> int:
    return services.deliveries_enqueue_overdue()
