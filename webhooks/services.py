"""Every write to webhook endpoints, events and deliveries (API.md §5).

A delivery moves pending -> delivered, or pending -> failed-retrying (-> ...) -> delivered or
dead. Only `delivery_attempt` sends, and only after claiming the delivery with a guarded UPDATE
(a short row lock, not one held across the HTTP call, which on SQLite would block every writer
for up to the 10-second timeout): a delivery that is delivered, dead, not yet due or being
sent by another worker is left alone, so running the task twice never sends twice."""

import json
import random
import time
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.services import lock_organization
from api import metrics
from api.responses import iso8601
from orders.selectors import with_assigned_numbers
from orders.serializers import BulkOrderSerializer
from webhooks import signing, transport
from webhooks.models import (
    BULK_ORDER_COMPLETED,
    DeliveryAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

log = structlog.get_logger(__name__)

Status = WebhookDelivery.Status
MAX_ENDPOINTS_PER_ORGANIZATION = 20
# Longer than one send can take (10 s timeout), so a live worker never loses its claim; a
# worker that dies mid-send frees the delivery for the sweeper after this.
SEND_LEASE = timedelta(seconds=60)
USER_AGENT = "AmCore-Webhooks/1"


class TooManyEndpoints(Exception):
    pass


def webhook_endpoint_create(
    *, organization, url: str, events: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint and return it with its signing secret. The API shows the secret in
    this answer only. An organization has at most MAX_ENDPOINTS_PER_ORGANIZATION live
    endpoints (checked with the organization row locked, so two requests cannot both pass)."""
    with transaction.atomic():
        lock_organization(organization.id)
        live = WebhookEndpoint.objects.filter(organization=organization, deleted_at__isnull=True)
        if live.count() >= MAX_ENDPOINTS_PER_ORGANIZATION:
            raise TooManyEndpoints()
        secret = signing.new_secret()
        endpoint = WebhookEndpoint.objects.create(
            organization=organization,
            url=url,
            events=sorted(set(events)),
            description=description,
            secret=secret,
        )
    return endpoint, secret


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Soft-delete: the endpoint gets no new deliveries, its open deliveries end `dead` when
    their next attempt comes, and its delivery history stays listed. Idempotent."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), is_active=False
    )


@transaction.atomic
def bulk_order_completed(*, order) -> WebhookEvent | None:
    """Record the phone_number.bulk_order.completed event for a backordered order that just
    reached a terminal status, and schedule its deliveries after commit. Called (through
    orders.signals.bulk_order_finished) inside the transaction that ends the order.

    Guarantees: at most one event per order, whatever the number of calls (a unique constraint
    on (type, order_id); a repeated call returns None and schedules nothing); one delivery per
    active endpoint of the order's organization subscribed to the event; nothing is sent unless
    the caller's transaction commits. Orders filled at once (not backordered) have no event."""
    if not order.is_backorder:
        return None
    if not order.is_terminal:
        raise ValueError(f"bulk order {order.pk} is not terminal ({order.status})")
    if WebhookEvent.objects.filter(type=BULK_ORDER_COMPLETED, order_id=order.pk).exists():
        return None
    now = timezone.now()
    event = WebhookEvent(
        type=BULK_ORDER_COMPLETED, organization_id=order.organization_id, order_id=order.pk
    )
    event.created_at = now
    event.body = json.dumps(
        {
            "id": event.id,
            "type": event.type,
            "created_at": iso8601(now),
            "data": BulkOrderSerializer(with_assigned_numbers(order)).data,
        },
        separators=(",", ":"),
    )
    try:
        with transaction.atomic():  # savepoint: a concurrent duplicate leaves the caller usable
            event.save(force_insert=True)
    except IntegrityError:
        return None
    _create_deliveries(event)
    return event


def _create_deliveries(event: WebhookEvent) -> list[WebhookDelivery]:
    endpoints = WebhookEndpoint.objects.filter(
        organization_id=event.organization_id, is_active=True, deleted_at__isnull=True
    )
    # `events` is a short JSON list; filtering it in Python works the same on every database.
    deliveries = [
        WebhookDelivery(
            event=event,
            endpoint=endpoint,
            organization_id=event.organization_id,
            next_attempt_at=event.created_at,
            retry_until=event.created_at + retry_window(),
        )
        for endpoint in endpoints
        if endpoint.subscribes_to(event.type)
    ]
    WebhookDelivery.objects.bulk_create(deliveries)
    for delivery in deliveries:
        _enqueue_on_commit(delivery.id)
    return deliveries


def _enqueue_on_commit(delivery_id, countdown: float | None = None) -> None:
    from webhooks.tasks import deliver_webhook

    # robust: a broker outage must not fail the committed change that emitted the event; the
    # periodic enqueue_overdue_webhooks task sends the delivery when the broker is back.
    transaction.on_commit(
        # At least 1 s when delayed: RabbitMQ's native delayed delivery refuses a countdown
        # that rounds down to 0.
        lambda: deliver_webhook.apply_async(
            (str(delivery_id),), countdown=None if countdown is None else max(1.0, countdown)
        ),
        robust=True,
    )


def retry_window() -> timedelta:
    return timedelta(hours=settings.WEBHOOKS_RETRY_WINDOW_HOURS)


def retry_delay(attempt_count: int) -> float:
    """Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries
    of many deliveries after an outage spread out instead of arriving together."""
    base = settings.WEBHOOKS_RETRY_BASE_SECONDS * 2 ** min(attempt_count - 1, 20)
    delay = min(settings.WEBHOOKS_RETRY_MAX_DELAY_SECONDS, base)
    return delay / 2 + random.uniform(0, delay / 2)


def delivery_attempt(*, delivery_id) -> DeliveryAttempt | None:
    """Send one delivery once, if it is due, and record the attempt. Returns the attempt, or
    None when there was nothing to do (delivered, dead, not due yet, or another worker holds
    it). Safe to call any number of times, concurrently: see the module docstring."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(
            pk=delivery_id, status__in=WebhookDelivery.OPEN, next_attempt_at__lte=now
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + SEND_LEASE)
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.is_active or endpoint.deleted_at is not None:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=Status.DEAD,
            next_attempt_at=None,
            locked_until=None,
            last_error="endpoint deleted",
        )
        return None
    body = delivery.event.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-AmCore-Signature": signing.signature_header(
            secret=endpoint.secret, timestamp=timestamp, body=body
        ),
        "X-AmCore-Event-Id": delivery.event_id,
        "X-AmCore-Delivery-Id": str(delivery.id),
    }
    result = transport.send(
        url=endpoint.url,
        body=body,
        headers=headers,
        allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS,
    )
    return _record_attempt(delivery_id=delivery_id, result=result)


@transaction.atomic
def _record_attempt(*, delivery_id, result: transport.Result) -> DeliveryAttempt:
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
    now = timezone.now()
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery,
        at=now,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        error=result.error,
        succeeded=result.ok,
    )
    delivery.attempt_count = F("attempt_count") + 1
    if delivery.status == Status.DELIVERED:
        # A worker whose lease had run out got here after another delivered it: keep that
        # outcome, only count the attempt.
        delivery.save(update_fields=["attempt_count", "updated_at"])
        return attempt
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    delivery.locked_until = None
    attempts = DeliveryAttempt.objects.filter(delivery=delivery).count()
    if result.ok:
        delivery.status = Status.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    else:
        next_at = now + timedelta(seconds=retry_delay(attempts))
        if next_at > delivery.retry_until:
            delivery.status = Status.DEAD
            delivery.next_attempt_at = None
        else:
            delivery.status = Status.FAILED_RETRYING
            delivery.next_attempt_at = next_at
            _enqueue_on_commit(delivery.id, countdown=(next_at - now).total_seconds())
    delivery.save()
    log.info(
        "webhook_attempt",
        delivery_id=str(delivery.id),
        status=delivery.status,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        error=result.error or None,
    )
    metrics.WEBHOOK_DELIVERIES.labels(outcome=delivery.status).inc()
    return attempt


@transaction.atomic
def delivery_redeliver(*, delivery_id) -> bool:
    """Staff action: send a dead or still-retrying delivery again now, with a fresh 24-hour
    retry window. A delivered delivery is never sent again: returns False for it."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
    if delivery.status == Status.DELIVERED:
        return False
    now = timezone.now()
    delivery.status = Status.PENDING
    delivery.next_attempt_at = now
    delivery.retry_until = now + retry_window()
    delivery.locked_until = None
    delivery.save(update_fields=["status", "next_attempt_at", "retry_until", "locked_until"])
    _enqueue_on_commit(delivery.id)
    return True


def deliveries_enqueue_overdue(*, limit: int = 500) -> int:
    """Periodic safety net: re-enqueue open deliveries whose attempt is overdue (a lost broker
    message, a worker killed mid-send). Sending twice is impossible (delivery_attempt claims)."""
    now = timezone.now()
    overdue = list(
        WebhookDelivery.objects.filter(
            status__in=WebhookDelivery.OPEN, next_attempt_at__lte=now - timedelta(minutes=2)
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    from webhooks.tasks import deliver_webhook

    for delivery_id in overdue:
        deliver_webhook.delay(str(delivery_id))
    return len(overdue)
