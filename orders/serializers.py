"""Request bodies, query parameters and the answers of the bulk-order routes (API.md §2)."""

import re
import uuid
from datetime import datetime, timedelta

import django_filters
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers import (
    InputSerializer,
    NullableCharField,
    StrictCharField,
    StrictIntegerField,
    StringListField,
)
from orders.models import BulkOrder
from phone_numbers.serializers import CriteriaInput, RoutingInput

MODES = BulkOrder.Mode.values
MODE_MESSAGE = "must be 'atomic' or 'immediate_partial'"
FILL_BY_MIN_AHEAD = timedelta(minutes=5)
FILL_BY_MAX_AHEAD = timedelta(days=30)
FILL_BY_FORMAT_MESSAGE = "must be an RFC 3339 timestamp with a time zone"
FILL_BY_RANGE_MESSAGE = "must be from 5 minutes to 30 days ahead"
# RFC 3339 section 5.6 (date-time): a full date, a time with seconds, an optional fraction and
# a zone that is "Z" or a numeric offset; "T" may be a space, as the RFC's note allows.
# fromisoformat alone would also take a missing zone, week dates or a missing seconds field.
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _every(message: str, *keys) -> dict:
    return dict.fromkeys(("invalid", "required", "null", "blank", *keys), message)


@extend_schema_field({"type": "string", "enum": MODES, "default": BulkOrder.Mode.ATOMIC})
class ModeField(StrictCharField):
    """`atomic` or `immediate_partial` (validated by the serializer, with its message)."""


@extend_schema_field(OpenApiTypes.DATETIME)
class FillByField(StrictCharField):
    """An RFC 3339 timestamp with a time zone, 5 minutes to 30 days from now (checked against
    the clock when the request is validated)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", _every(FILL_BY_FORMAT_MESSAGE))
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if not RFC3339.fullmatch(text):
            raise serializers.ValidationError(FILL_BY_FORMAT_MESSAGE)
        try:
            moment = datetime.fromisoformat(text.upper().replace(" ", "T"))
        except ValueError:  # e.g. month 13, hour 25, offset +24:00
            raise serializers.ValidationError(FILL_BY_FORMAT_MESSAGE) from None
        now = timezone.now()
        if not now + FILL_BY_MIN_AHEAD <= moment <= now + FILL_BY_MAX_AHEAD:
            raise serializers.ValidationError(FILL_BY_RANGE_MESSAGE)
        return moment

    def to_representation(self, value):
        return value


class BulkOrderInput(CriteriaInput, RoutingInput):
    """POST /v1/phone-numbers/bulk (and /bulk/quote): the criteria and routing fields of search
    and explicit orders (phone_numbers.serializers), plus quantity, mode and fill_by."""

    quantity = StrictIntegerField()
    mode = ModeField(
        required=False,
        default=BulkOrder.Mode.ATOMIC,
        error_messages=_every(MODE_MESSAGE),
        help_text="`atomic` (all now or a backorder of all) or `immediate_partial` (what "
        "inventory holds now at once, the rest backordered). See docs/bulk-orders.md.",
    )
    fill_by = FillByField(
        required=False,
        allow_null=True,
        default=None,
        help_text="RFC 3339 with a time zone, 5 minutes to 30 days ahead: a still-processing "
        "order ends when it passes, as a cancel ends it.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        maximum = settings.BULK_ORDER_MAX_QUANTITY
        quantity = self.fields["quantity"]
        quantity.min_value, quantity.max_value = 1, maximum
        message = f"must be an integer from 1 to {maximum}"
        quantity.error_messages.update(
            _every(message, "min_value", "max_value", "max_string_length")
        )
        # IntegerField builds its min/max validators in __init__: rebuild them for the setting.
        quantity.validators = [
            MinValueValidator(1, message=message),
            MaxValueValidator(maximum, message=message),
        ]

    def validate_mode(self, value):
        if value not in MODES:
            raise serializers.ValidationError(MODE_MESSAGE)
        return value


class BulkOrderCancelInput(InputSerializer):
    """POST /v1/phone-numbers/bulk/{id}/cancel takes no fields (an empty object, or no body)."""


class BulkOrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=BulkOrder.Status.choices)
    label = django_filters.CharFilter()

    class Meta:
        model = BulkOrder
        fields = ["status", "label"]


class BulkOrderPlacementSerializer(serializers.Serializer):
    """The answer of POST /v1/phone-numbers/bulk (API.md §2 steps 3 and 4, immediate_partial):
    an order filled at once hides its id (`order_id: null`), a backorder shows the id to poll,
    and so does an order that ended partial at once, which alone has `failed_count`. The order
    carries `assigned_numbers` (from the claim, or orders.selectors.with_assigned_numbers)."""

    order_id = serializers.SerializerMethodField()
    status = serializers.ChoiceField(
        choices=[BulkOrder.Status.COMPLETE, BulkOrder.Status.PROCESSING, BulkOrder.Status.PARTIAL]
    )
    quantity = serializers.IntegerField()
    assigned_count = serializers.IntegerField()
    pending_count = serializers.IntegerField()
    failed_count = serializers.IntegerField(
        required=False, help_text="Only on `partial`: how many the carrier could not supply."
    )
    assigned_numbers = StringListField()

    def get_order_id(self, order) -> uuid.UUID | None:
        return str(order.id) if order.shows_id else None

    def to_representation(self, order):
        """The fields above, as DRF's fields render them, without building a field object per
        answer (every order's answer; a test compares it with the generic rendering)."""
        data = {
            "order_id": self.get_order_id(order),
            "status": str(order.status),
            "quantity": int(order.quantity),
            "assigned_count": int(order.assigned_count),
            "pending_count": int(order.pending_count),
        }
        if order.status == BulkOrder.Status.PARTIAL:
            data["failed_count"] = int(order.failed_count)
        data["assigned_numbers"] = [str(number) for number in order.assigned_numbers]
        return data


class BulkOrderSerializer(serializers.Serializer):
    """A bulk order as GET /v1/phone-numbers/bulk/{id} answers it, and the `data` of the
    phone_number.bulk_order.completed event. `failed_count` is a number on partial and failed,
    null otherwise."""

    order_id = serializers.UUIDField(source="id")
    status = serializers.ChoiceField(choices=BulkOrder.Status.choices)
    quantity = serializers.IntegerField()
    assigned_count = serializers.IntegerField()
    pending_count = serializers.IntegerField()
    failed_count = serializers.SerializerMethodField()
    assigned_numbers = StringListField()
    label = NullableCharField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    mode = serializers.ChoiceField(choices=BulkOrder.Mode.choices)
    fill_by = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the order was ended early: by a cancel, by staff, or by its fill_by.",
    )

    def get_failed_count(self, order) -> int | None:
        ended_short = (BulkOrder.Status.PARTIAL, BulkOrder.Status.FAILED)
        return order.failed_count if order.status in ended_short else None


class BulkOrderQuoteSerializer(serializers.Serializer):
    """The answer of POST /v1/phone-numbers/bulk/quote (orders.selectors.BulkOrderQuote)."""

    quantity = serializers.IntegerField()
    unit_price_cents = serializers.IntegerField()
    cost_cents = serializers.IntegerField()
    available_cents = serializers.IntegerField()
    available_now = serializers.IntegerField(
        help_text="Matching numbers in inventory now, at most `quantity`."
    )
    outcome = serializers.ChoiceField(
        choices=[
            "immediate",
            "backorder",
            "partial_backorder",
            "partial",
            "insufficient_credit",
            "insufficient_inventory",
        ],
        help_text="What POST /v1/phone-numbers/bulk with this body would do now.",
    )
