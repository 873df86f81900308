from celery import shared_task

from webhooks import services


# One attempt ends within transport.TIMEOUT_SECONDS (10 s); the limits are a backstop only,
# under the service's 60-second send lease. The soft limit's exception is recorded as a failed
# attempt by the service. These tasks go to the "webhooks" queue (CELERY_TASK_ROUTES).
@shared_task(soft_time_limit=20, time_limit=30)
def deliver_webhook(delivery_id: str) -> None:
    """One attempt of one delivery; the service schedules the next one on failure."""
    services.delivery_attempt(delivery_id=delivery_id)


@shared_task
def enqueue_overdue_webhooks() -> int:
    return services.deliveries_enqueue_overdue()
