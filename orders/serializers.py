"""Request bodies, query parameters and the answers of the bulk-order routes (API.md §2)."""

import uuid

import django_filters
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

from api.serializers import NullableCharField, StrictCharField, StrictIntegerField, StringListField
from orders.models import BulkOrder
from phone_numbers.serializers import CriteriaInput, RoutingInput

MODE_ATOMIC = "atomic"
MODE_IMMEDIATE_PARTIAL = "immediate_partial"


def _every(message: str, *keys) -> dict:
    return dict.fromkeys(("invalid", "required", "null", "blank", *keys), message)


class BulkOrderInput(CriteriaInput, RoutingInput):
    """POST /v1/phone-numbers/bulk: the criteria and routing fields of search and explicit
    orders (phone_numbers.serializers), plus quantity and mode."""

    quantity = StrictIntegerField()
    mode = StrictCharField(
        required=False,
        default=MODE_ATOMIC,
        error_messages=_every(f"must be {MODE_ATOMIC!r}"),
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
        if value == MODE_IMMEDIATE_PARTIAL:
            raise serializers.ValidationError("immediate_partial is not yet available; use atomic")
        if value != MODE_ATOMIC:
            raise serializers.ValidationError(f"must be {MODE_ATOMIC!r}")
        return value


class BulkOrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=BulkOrder.Status.choices)
    label = django_filters.CharFilter()

    class Meta:
        model = BulkOrder
        fields = ["status", "label"]


class BulkOrderPlacementSerializer(serializers.Serializer):
    """The answer of POST /v1/phone-numbers/bulk (API.md §2 steps 3 and 4): an order filled at
    once hides its id (`order_id: null`), a backorder shows the id to poll. The order carries
    `assigned_numbers` (orders.selectors.with_assigned_numbers)."""

    order_id = serializers.SerializerMethodField()
    status = serializers.ChoiceField(
        choices=[BulkOrder.Status.COMPLETE, BulkOrder.Status.PROCESSING]
    )
    quantity = serializers.IntegerField()
    assigned_count = serializers.IntegerField()
    pending_count = serializers.IntegerField()
    assigned_numbers = StringListField()

    def get_order_id(self, order) -> uuid.UUID | None:
        return str(order.id) if order.is_backorder else None


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

    def get_failed_count(self, order) -> int | None:
        ended_short = (BulkOrder.Status.PARTIAL, BulkOrder.Status.FAILED)
        return order.failed_count if order.status in ended_short else None
