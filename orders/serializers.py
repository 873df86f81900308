"""Request bodies and query parameters of the bulk-order routes (API.md §2)."""

import django_filters
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

from config.serializers import (
    HttpsURLField,
    InputSerializer,
    LabelField,
    StrictCharField,
    StrictIntegerField,
)
from orders.models import BulkOrder
from phone_numbers import numbering

MODE_ATOMIC = "atomic"
MODE_IMMEDIATE_PARTIAL = "immediate_partial"


def _every(message: str, *keys) -> dict:
    return dict.fromkeys(("invalid", "required", "null", "blank", *keys), message)


class BulkOrderInput(InputSerializer):
    quantity = StrictIntegerField()
    number_type = serializers.ChoiceField(
        choices=numbering.NUMBER_TYPES,
        default=numbering.LOCAL,
        error_messages=_every("must be one of: local, toll_free", "invalid_choice"),
    )
    area_code = StrictCharField(
        required=False, allow_null=True, error_messages=_every("must be a 3-digit area code")
    )
    pattern = StrictCharField(
        required=False, allow_null=True, error_messages=_every("must be 1 to 10 digits")
    )
    # Omitted, null or "" all mean "not set".
    inbound_url = HttpsURLField(required=False, allow_null=True, allow_blank=True)
    status_url = HttpsURLField(required=False, allow_null=True, allow_blank=True)
    label = LabelField(required=False, allow_null=True, allow_blank=True)
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

    def validate_pattern(self, value):
        if value is not None and not numbering.is_digit_pattern(value):
            raise serializers.ValidationError("must be 1 to 10 digits")
        return value

    def validate_mode(self, value):
        if value == MODE_IMMEDIATE_PARTIAL:
            raise serializers.ValidationError("immediate_partial is not yet available; use atomic")
        if value != MODE_ATOMIC:
            raise serializers.ValidationError(f"must be {MODE_ATOMIC!r}")
        return value

    def validate(self, attrs):
        area_code = attrs.get("area_code")
        if area_code is not None:
            error = numbering.area_code_error(attrs["number_type"], area_code)
            if error:
                raise serializers.ValidationError({"area_code": error})
        return attrs


class BulkOrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=BulkOrder.Status.choices)
    label = django_filters.CharFilter()

    class Meta:
        model = BulkOrder
        fields = ["status", "label"]
