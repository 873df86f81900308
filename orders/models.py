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

    class Mode(models.TextChoices):
        # All now or a backorder for all of it; nothing is assigned at once on a shortfall.
        ATOMIC = "atomic"
        # What inventory holds now is assigned at once; only the rest is backordered.
        IMMEDIATE_PARTIAL = "immediate_partial"

    class EndedBy(models.TextChoices):
        """Who ended a processing order. Empty while it processes, and for an order that was
        never processing (filled or partly filled at once)."""

        CARRIER = "carrier", "fulfilment (the carrier delivered or failed)"
        CLIENT = "client", "the client cancelled it"
        STAFF = "staff", "staff closed it"
        DEADLINE = "deadline", "its fill_by deadline passed"

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
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.ATOMIC)
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
    # When it passes, a still-processing order ends as a cancel ends it (ended_by=deadline).
    fill_by = models.DateTimeField(null=True, blank=True)
    # Set when the order was ended early (by the client, staff or its deadline), not when
    # fulfilment ended it.
    cancelled_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=10, choices=EndedBy.choices, blank=True)

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
            # The deadline sweeper's scan: processing orders by deadline.
            models.Index(
                fields=["fill_by"],
                condition=Q(status="processing", fill_by__isnull=False),
                name="bulkorder_fill_by_idx",
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
    def shows_id(self) -> bool:
        """Whether POST /bulk answers with the order id: a backorder (to poll) and an order
        that ended partial at once (it is the record of what failed). Only an order filled at
        once answers `order_id: null`."""
        return self.is_backorder or self.status == self.Status.PARTIAL

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL
