"""Request bodies and query parameters of the bulk-order routes (API.md §2)."""

import django_filters
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

from api.serializers import (
    StrictCharField,
    StrictIntegerField,
)
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
