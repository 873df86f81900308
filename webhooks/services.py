"""Every write to webhook endpoints, events and deliveries (API.md §5).

A delivery moves pending -> delivered, or pending -> failed-retrying (-> ...) -> delivered or
dead. Only `delivery_attempt` sends, and only after claiming the delivery with a guarded UPDATE
(a short row lock, not one held across the HTTP call, which on SQLite would block every writer
for up to the 10-second timeout): a delivery that is delivered, dead, not yet due or being
sent by another worker is left alone, so running the task twice never sends twice.

Nothing a receiver does can keep a delivery open forever: an attempt ends within
transport.TIMEOUT_SECONDS of wall-clock time, any exception while sending is recorded as a
failed attempt (with backoff), an attempt whose worker died is recorded failed when its lease
runs out, and a delivery past its retry window ends `dead` (never sent again by the sweeper).
At most WEBHOOKS_MAX_IN_FLIGHT_PER_ORGANIZATION deliveries of one organization are sent at
once; more wait IN_FLIGHT_WAIT and try again."""

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
from api import crypto, metrics
from api.responses import iso8601
from orders.selectors import with_assigned_numbers
from orders.serializers import BulkOrderSerializer
from webhooks import signing, transport
from webhooks.models import (
    BULK_ORDER_COMPLETED,
    TEST_EVENT,
    DeliveryAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

log = structlog.get_logger(__name__)

Status = WebhookDelivery.Status
MAX_ENDPOINTS_PER_ORGANIZATION = 20
# Longer than one send can take (10 s deadline, task time limits 20/30 s), so a live worker
# never loses its claim; a worker that dies mid-send frees the delivery after this.
SEND_LEASE = timedelta(seconds=60)
# How long a delivery waits when its organization already has the most deliveries in flight.
IN_FLIGHT_WAIT = timedelta(seconds=5)
# After a rotation the previous secret signs too, for this long.
ROTATION_GRACE = timedelta(hours=24)
USER_AGENT = "AmCore-Webhooks/1"


class TooManyEndpoints(Exception):
    pass


class EndpointDisabled(Exception):
    """The endpoint is disabled: nothing new is sent to it."""


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
            secret_encrypted=crypto.encrypt(secret),
        )
    return endpoint, secret


_UNSET = object()


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, url=_UNSET, events=_UNSET, description=_UNSET, enabled=_UNSET
) -> tuple[WebhookEndpoint, dict]:
    """Change the given fields (already validated like POST) of a live endpoint; returns it
    with {field: (old, new)} for what actually changed. A disabled endpoint gets no new
    deliveries; its open ones end `dead` at their next attempt, like a deleted one's."""
    changes = {}
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(
            pk=endpoint.pk, deleted_at__isnull=True
        )
        new_values = {
            "url": url,
            "events": sorted(set(events)) if events is not _UNSET else _UNSET,
            "description": description,
            "is_active": enabled,
        }
        for field, value in new_values.items():
            if value is not _UNSET and getattr(endpoint, field) != value:
                changes[field] = (getattr(endpoint, field), value)
                setattr(endpoint, field, value)
        if changes:
            endpoint.save(update_fields=list(changes))
    return endpoint, changes


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> tuple[WebhookEndpoint, str]:
    """Issue a new signing secret and return it (shown once). For ROTATION_GRACE the secret it
    replaces keeps signing too (both signatures on every delivery), so receivers can switch
    without losing a delivery. Rotating again within the grace period drops the oldest secret:
    only the last two are ever valid."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(
            pk=endpoint.pk, deleted_at__isnull=True
        )
        secret = signing.new_secret()
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_expires_at = timezone.now() + ROTATION_GRACE
        endpoint.secret_encrypted = crypto.encrypt(secret)
        endpoint.save(
            update_fields=[
                "secret_encrypted",
                "previous_secret_encrypted",
                "previous_secret_expires_at",
            ]
        )
    return endpoint, secret


def signing_secrets(endpoint: WebhookEndpoint, *, now=None) -> list[str]:
    """The secrets that sign a delivery now: the current one, then the previous one while its
    grace period lasts."""
    now = now or timezone.now()
    secrets = [crypto.decrypt(endpoint.secret_encrypted)]
    if (
        endpoint.previous_secret_encrypted
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        secrets.append(crypto.decrypt(endpoint.previous_secret_encrypted))
    return secrets


def webhook_endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Record a `webhook.test` event for this endpoint alone and schedule its delivery now
    (after commit). Raises EndpointDisabled for a disabled endpoint."""
    if not endpoint.is_active:
        raise EndpointDisabled()
    with transaction.atomic():
        now = timezone.now()
        event = WebhookEvent(type=TEST_EVENT, organization_id=endpoint.organization_id)
        event.created_at = now
        event.body = json.dumps(
            {
                "id": event.id,
                "type": TEST_EVENT,
                "created_at": iso8601(now),
                "data": {"endpoint_id": str(endpoint.id)},
            },
            separators=(",", ":"),
        )
        event.save(force_insert=True)
        delivery = WebhookDelivery.objects.create(
            event=event,
            endpoint=endpoint,
            organization_id=endpoint.organization_id,
            next_attempt_at=now,
            retry_until=now + retry_window(),
        )
        _enqueue_on_commit(delivery.id)
    return delivery


def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """A new delivery of the same event (same body, same event id) to the same endpoint, sent
    now, with its own retry window; the original is left as it is. Raises EndpointDisabled
    when the endpoint is disabled."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        if not endpoint.is_active or endpoint.deleted_at is not None:
            raise EndpointDisabled()
        now = timezone.now()
        replay = WebhookDelivery.objects.create(
            event_id=delivery.event_id,
            endpoint=endpoint,
            organization_id=delivery.organization_id,
            replay_of=delivery,
            next_attempt_at=now,
            retry_until=now + retry_window(),
        )
        _enqueue_on_commit(replay.id)
    return replay


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
    None when nothing was sent (delivered, dead, not due yet, another worker holds it, or its
    organization has too many in flight). Safe to call any number of times, concurrently: see
    the module docstring. Whatever goes wrong while sending is a failed attempt."""
    outcome = _claim(delivery_id)
    if not isinstance(outcome, WebhookDelivery):
        return outcome
    delivery = outcome
    try:
        result = _send(delivery)
    except Exception as exc:  # SoftTimeLimitExceeded too: the attempt must be recorded
        log.exception("webhook_attempt_crashed", delivery_id=str(delivery_id))
        result = transport.Result(None, None, f"attempt failed: {type(exc).__name__}")
    return _record_attempt(delivery_id=delivery_id, result=result)


def _claim(delivery_id) -> WebhookDelivery | DeliveryAttempt | None:
    """Take the send lease of a due delivery; returns the delivery to send, or what was done
    instead (None, or the failed attempt recorded for a previous attempt that never ended)."""
    now = timezone.now()
    organization_id = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .values_list("organization_id", flat=True)
        .first()
    )
    if organization_id is None:
        return None
    with transaction.atomic():
        # Serializes the in-flight count and the claim of one organization's deliveries.
        lock_organization(organization_id)
        delivery = (
            WebhookDelivery.objects.filter(
                pk=delivery_id, status__in=WebhookDelivery.OPEN, next_attempt_at__lte=now
            )
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
            .select_related("event", "endpoint")
            .first()
        )
        if delivery is None:
            return None
        if delivery.locked_until is not None:
            # A lease ran out without an attempt being recorded: the worker died mid-send (a
            # hard time limit, a kill). That attempt failed; back off instead of resending now.
            return _record_attempt(
                delivery_id=delivery_id,
                result=transport.Result(None, None, "attempt did not finish (worker stopped)"),
            )
        endpoint = delivery.endpoint
        if not endpoint.is_active or endpoint.deleted_at is not None:
            reason = "endpoint deleted" if endpoint.deleted_at else "endpoint disabled"
            _end_dead(delivery_id, reason)
            return None
        if delivery.retry_until <= now:
            _end_dead(delivery_id, delivery.last_error or "retry window ended")
            return None
        in_flight = (
            WebhookDelivery.objects.filter(organization_id=organization_id, locked_until__gt=now)
            .exclude(pk=delivery_id)
            .count()
        )
        if in_flight >= settings.WEBHOOKS_MAX_IN_FLIGHT_PER_ORGANIZATION:
            WebhookDelivery.objects.filter(pk=delivery_id).update(
                next_attempt_at=now + IN_FLIGHT_WAIT
            )
            _enqueue_on_commit(delivery_id, countdown=IN_FLIGHT_WAIT.total_seconds())
            return None
        WebhookDelivery.objects.filter(pk=delivery_id).update(locked_until=now + SEND_LEASE)
    return delivery


def _end_dead(delivery_id, reason: str) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=Status.DEAD, next_attempt_at=None, locked_until=None, last_error=reason[:500]
    )


def _send(delivery: WebhookDelivery) -> transport.Result:
    endpoint = delivery.endpoint
    body = delivery.event.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-AmCore-Signature": signing.signature_header(
            secrets=signing_secrets(endpoint), timestamp=timestamp, body=body
        ),
        "X-AmCore-Event-Id": delivery.event_id,
        "X-AmCore-Delivery-Id": str(delivery.id),
    }
    return transport.send(
        url=endpoint.url,
        body=body,
        headers=headers,
        allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS,
    )


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
    """Periodic safety net. Open deliveries past their retry window end `dead` (never sent
    again); the others whose attempt is overdue (a lost broker message, a worker killed
    mid-send) are enqueued again. Sending twice is impossible (delivery_attempt claims).
    Returns how many were enqueued."""
    now = timezone.now()
    unleased = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    expired = WebhookDelivery.objects.filter(unleased, status__in=WebhookDelivery.OPEN).filter(
        retry_until__lte=now
    )
    ended = 0
    for delivery_id, last_error in expired.values_list("pk", "last_error")[:limit]:
        ended += (
            WebhookDelivery.objects.filter(
                unleased, pk=delivery_id, status__in=WebhookDelivery.OPEN
            )
            .filter(retry_until__lte=now)
            .update(
                status=Status.DEAD,
                next_attempt_at=None,
                locked_until=None,
                last_error=last_error or "retry window ended",
            )
        )
    if ended:
        log.info("webhook_deliveries_ended_dead", count=ended)
    overdue = list(
        WebhookDelivery.objects.filter(
            unleased,
            status__in=WebhookDelivery.OPEN,
            next_attempt_at__lte=now - timedelta(minutes=2),
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    from webhooks.tasks import deliver_webhook

    for delivery_id in overdue:
        deliver_webhook.delay(str(delivery_id))
    return len(overdue)
