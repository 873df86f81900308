import json
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

BULK_ORDER_COMPLETED = "phone_number.bulk_order.completed"
# What an endpoint can subscribe to. `webhook.test` is only ever sent by the test route.
EVENT_TYPES = (BULK_ORDER_COMPLETED,)
TEST_EVENT = "webhook.test"


def new_event_id() -> str:
    return f"evt_{uuid.uuid4()}"


class WebhookEndpoint(models.Model):
    """Where an organization wants its events POSTed. The signing secret must be readable to
    sign each delivery, so it is stored encrypted (api.crypto), never in plain text; the
    API shows it only in the answer that issues it, the admin never. After a rotation the
    previous secret keeps signing too until `previous_secret_expires_at`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=2048)
    events = models.JSONField(default=list)
    description = models.CharField(max_length=256, blank=True)
    secret_encrypted = models.TextField(editable=False)
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["organization", "-created_at", "-id"],
                condition=Q(deleted_at__isnull=True),
                name="webhookendpoint_live_idx",
            ),
        ]

    def __str__(self):
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return self.is_active and self.deleted_at is None and event_type in self.events


class WebhookEvent(models.Model):
    """Something that happened, recorded once. `order_id` ties a bulk-order event to its order:
    the unique constraint makes a second emission for the same order impossible."""

    id = models.CharField(primary_key=True, max_length=40, default=new_event_id, editable=False)
    type = models.CharField(max_length=100)
    organization = models.ForeignKey(
        "accounts.Organization", models.CASCADE, related_name="webhook_events"
    )
    order_id = models.UUIDField(null=True, blank=True)
    # The exact JSON sent as every delivery's body (text, not JSONField: PostgreSQL's jsonb
    # would reorder the keys, and every attempt should send the same bytes).
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["type", "order_id"], name="webhookevent_once_per_order")
        ]

    def __str__(self):
        return f"{self.type} {self.id}"

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint. Only webhooks.services changes it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED_RETRYING = "failed-retrying"
        DEAD = "dead"

    OPEN = (Status.PENDING, Status.FAILED_RETRYING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(WebhookEvent, models.CASCADE, related_name="deliveries")
    # Set on a delivery created by the replay route: the delivery it sends again.
    replay_of = models.ForeignKey(
        "self", models.SET_NULL, null=True, blank=True, related_name="replays", editable=False
    )
    endpoint = models.ForeignKey(WebhookEndpoint, models.CASCADE, related_name="deliveries")
    # Denormalized from the endpoint so the customer's list is one indexed query.
    organization = models.ForeignKey(
        "accounts.Organization", models.CASCADE, related_name="webhook_deliveries"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Retries stop after this moment (24 hours after the event; a redelivery opens a new window).
    retry_until = models.DateTimeField()
    # Set while a worker is sending: another worker leaves the delivery alone until it passes.
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["organization", "-created_at", "-id"], name="webhookdelivery_org_idx"
            ),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "failed-retrying"]),
                name="webhookdelivery_due_idx",
            ),
            models.Index(
                fields=["organization", "locked_until"],
                condition=Q(locked_until__isnull=False),
                name="webhookdelivery_inflight_idx",
            ),
        ]
        constraints = [
            # One original delivery per (event, endpoint); replays are extra deliveries.
            models.UniqueConstraint(
                fields=["event", "endpoint"],
                condition=Q(replay_of__isnull=True),
                name="webhookdelivery_once",
            ),
        ]

    def __str__(self):
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One POST (or one refusal to POST) of a delivery."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(WebhookDelivery, models.CASCADE, related_name="attempts")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.status_code or '-'} {self.error or 'ok'}"
