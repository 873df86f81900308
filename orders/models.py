import uuid

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from phone_numbers.models import NumberType


class BulkOrder(models.Model):
    """An order by quantity and criteria. Filled at once (complete, never visible as
    processing) or backordered (processing until fulfilment ends it complete, partial or
    failed). Only orders.services changes its status or counts."""

    class Status(models.TextChoices):
        PROCESSING = "processing"
        COMPLETE = "complete"
        PARTIAL = "partial"
        FAILED = "failed"

    TERMINAL = (Status.COMPLETE, Status.PARTIAL, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", models.PROTECT, related_name="bulk_orders"
    )
    # Criteria
    quantity = models.PositiveIntegerField()
    number_type = models.CharField(max_length=10, choices=NumberType.choices)
    area_code = models.CharField(max_length=3, null=True, blank=True)
    exchange = models.CharField(max_length=3, null=True, blank=True)
    # pattern (contains), starts_with and ends_with as digits: vanity letters are mapped on input.
    pattern = models.CharField(max_length=10, null=True, blank=True)
    starts_with = models.CharField(max_length=10, null=True, blank=True)
    ends_with = models.CharField(max_length=10, null=True, blank=True)
    features = models.JSONField(default=list, blank=True)  # sorted names: sms, mms, voice
    # Routing applied to every number the order assigns
    inbound_url = models.URLField(max_length=2048, null=True, blank=True)
    status_url = models.URLField(max_length=2048, null=True, blank=True)
    label = models.CharField(max_length=64, null=True, blank=True)
    # Price per number when the order was placed; the hold and each charge use it.
    unit_price_cents = models.PositiveIntegerField()
    is_backorder = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices)
    assigned_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    # The carrier's reference for the upstream order placed for the shortfall, if any.
    carrier_order_ref = models.CharField(max_length=200, null=True, blank=True)
    carrier_quantity = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=26, blank=True, db_index=True)
    close_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Last time fulfilment made progress; the stuck-order sweeper looks at it.
    progressed_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("close_bulkorder", "Can close a processing bulk order"),
            ("retry_bulkorder", "Can retry fulfilment of a processing bulk order"),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="bulkorder_org_idx"),
            models.Index(
                fields=["progressed_at"],
                condition=Q(status="processing"),
                name="bulkorder_processing_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(assigned_count__lte=F("quantity") - F("failed_count")),
                name="bulkorder_counts_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(status="processing")
                | Q(assigned_count=F("quantity") - F("failed_count")),
                name="bulkorder_terminal_has_no_pending",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.number_type} ({self.status})"

    @property
    def pending_count(self) -> int:
        return self.quantity - self.assigned_count - self.failed_count

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL
