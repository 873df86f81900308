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


class CarrierOrder(models.Model):
    """One upstream placement of a bulk order's shortfall at the carrier (API.md §6.1).

    Written as an intent (status `intent`, no carrier id) and committed before the carrier is
    called, so a worker that dies after the carrier accepted the order leaves a row saying so;
    the next attempt looks the order up at the carrier by `customer_reference` instead of
    placing it again. Only orders.services changes it."""

    class Status(models.TextChoices):
        INTENT = "intent"  # recorded, the carrier may or may not have it
        PLACED = "placed"  # the carrier has it (its id is known), waiting for its numbers
        COMPLETE = "complete"  # every requested number delivered
        PARTIAL = "partial"  # some delivered
        FAILED = "failed"  # none delivered, or the carrier refused the order
        CANCELLED = "cancelled"  # cancelled at the carrier before it delivered everything

    OPEN = (Status.INTENT, Status.PLACED)

    id = models.BigAutoField(primary_key=True)
    bulk_order = models.ForeignKey(BulkOrder, models.PROTECT, related_name="carrier_orders")
    sequence = models.PositiveSmallIntegerField()  # 1, 2, ... per bulk order
    carrier = models.CharField(max_length=40)  # settings.CARRIER_BACKEND when placed
    customer_reference = models.CharField(max_length=64, unique=True)
    carrier_order_id = models.CharField(max_length=200, null=True, blank=True)
    requested_count = models.PositiveIntegerField()
    allocated_count = models.PositiveIntegerField(default=0)  # numbers the carrier delivered
    assigned_count = models.PositiveIntegerField(default=0)  # of those, assigned to the order
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.INTENT)
    # The carrier's parts of the order that can be cancelled on their own (Telnyx sub orders).
    sub_order_ids = models.JSONField(default=list, blank=True)
    numbers = models.JSONField(default=list, blank=True)  # E.164 numbers the carrier delivered
    # Sends of the placement to the carrier begun. Above zero, the carrier may have the order,
    # so it is looked up by reference before any further send.
    attempts = models.PositiveIntegerField(default=0)
    # One worker sends at a time: it claims the send until then (compare-and-set, no lock held).
    send_lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    placed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["bulk_order", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["bulk_order", "sequence"], name="carrierorder_one_per_sequence"
            ),
        ]
        indexes = [
            models.Index(
                fields=["updated_at"],
                condition=Q(status__in=["intent", "placed"]),
                name="carrierorder_open_idx",
            ),
            models.Index(fields=["carrier_order_id"], name="carrierorder_carrier_id_idx"),
        ]

    def __str__(self):
        return f"{self.customer_reference} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class CarrierWebhookEvent(models.Model):
    """A carrier's signed push that was applied, by its event id: a replay is applied once."""

    carrier = models.CharField(max_length=40)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100)
    received_at = models.DateTimeField(default=timezone.now)
    bulk_order_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "event_id"], name="carrierwebhookevent_once_per_event"
            ),
        ]

    def __str__(self):
        return f"{self.carrier} {self.event_type} {self.event_id}"
