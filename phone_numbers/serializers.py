"""Request bodies and the phone-number resource (API.md §2)."""

from rest_framework import serializers

from config.serializers import (
    HttpsURLField,
    InputSerializer,
    LabelField,
    StrictCharField,
    StrictIntegerField,
)
from phone_numbers import numbering
from phone_numbers.models import PhoneNumber

MAX_SEARCH_QUANTITY = 100
MAX_LISTED_NUMBERS = 100

NUMBER_TYPE_MESSAGE = "must be one of: local, toll_free"
PATTERN_MESSAGE = "must be 1 to 10 digits (0-9)"
E164_MESSAGE = "must be a US E.164 number: +1 then 10 digits, area code [2-9]XX, not N11"


class NumberTypeField(StrictCharField):
    default_error_messages = {"invalid": NUMBER_TYPE_MESSAGE}

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "error_messages", {"blank": NUMBER_TYPE_MESSAGE, "null": NUMBER_TYPE_MESSAGE}
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value not in numbering.NUMBER_TYPES:
            self.fail("invalid")
        return value


class AreaCodeField(StrictCharField):
    """Format only; whether it suits the number type is checked by the serializer."""

    default_error_messages = {"invalid": "must be a string of 3 digits"}

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "error_messages",
            {"blank": "must be a string of 3 digits", "null": "must be a string of 3 digits"},
        )
        super().__init__(**kwargs)


class PatternField(StrictCharField):
    default_error_messages = {"invalid": PATTERN_MESSAGE}

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"blank": PATTERN_MESSAGE, "null": PATTERN_MESSAGE})
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        # numbering's pattern is ASCII-only: full-width and other Unicode digits are refused.
        if not numbering.is_digit_pattern(value):
            self.fail("invalid")
        return value


class E164Field(StrictCharField):
    default_error_messages = {"invalid": E164_MESSAGE}

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"blank": E164_MESSAGE, "null": E164_MESSAGE})
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if numbering.parse_e164(value) is None:
            self.fail("invalid")
        return value


class CriteriaInput(InputSerializer):
    """number_type, area_code and pattern, as search and bulk orders take them. `null` for
    area_code or pattern means "any"."""

    number_type = NumberTypeField(required=False, default=numbering.LOCAL, trim_whitespace=False)
    area_code = AreaCodeField(required=False, allow_null=True, default=None, trim_whitespace=False)
    pattern = PatternField(required=False, allow_null=True, default=None, trim_whitespace=False)

    def validate(self, attrs):
        area_code = attrs.get("area_code")
        if area_code is not None:
            error = numbering.area_code_error(attrs["number_type"], area_code)
            if error:
                raise serializers.ValidationError({"area_code": error})
        return attrs


class SearchInput(CriteriaInput):
    quantity = StrictIntegerField(
        required=False,
        default=10,
        min_value=1,
        max_value=MAX_SEARCH_QUANTITY,
        error_messages={
            key: f"must be an integer from 1 to {MAX_SEARCH_QUANTITY}"
            for key in ("invalid", "min_value", "max_value", "max_string_length", "null")
        },
    )


class RoutingInput(InputSerializer):
    """inbound_url, status_url and label: optional; `null` or `""` means unset."""

    inbound_url = HttpsURLField(required=False, allow_null=True, allow_blank=True, default=None)
    status_url = HttpsURLField(required=False, allow_null=True, allow_blank=True, default=None)
    label = LabelField(required=False, allow_null=True, allow_blank=True, default=None)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        for name in ("inbound_url", "status_url", "label"):
            if attrs.get(name) == "":
                attrs[name] = None
        return attrs


LISTED_NUMBERS_MESSAGE = f"must be a list of 1 to {MAX_LISTED_NUMBERS} E.164 numbers"


class ListedOrderInput(RoutingInput):
    numbers = serializers.ListField(
        child=E164Field(trim_whitespace=False),
        min_length=1,
        max_length=MAX_LISTED_NUMBERS,
        error_messages={
            key: LISTED_NUMBERS_MESSAGE
            for key in ("required", "null", "not_a_list", "empty", "min_length", "max_length")
        },
    )

    def validate_numbers(self, numbers):
        seen, duplicates = set(), []
        for number in numbers:
            if number in seen and number not in duplicates:
                duplicates.append(number)
            seen.add(number)
        if duplicates:
            raise serializers.ValidationError(
                "must not contain duplicates: " + ", ".join(duplicates[:10])
            )
        return numbers


class PhoneNumberSerializer(serializers.ModelSerializer):
    """The phone-number resource. `created_at` is when the number was assigned to the
    organization (assigned_at): from the customer's side, that is when the resource began."""

    created_at = serializers.DateTimeField(source="assigned_at")

    class Meta:
        model = PhoneNumber
        fields = [
            "id",
            "number",
            "number_type",
            "area_code",
            "inbound_url",
            "status_url",
            "label",
            "sms_enabled",
            "mms_enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in ("inbound_url", "status_url", "label"):
            if data[name] == "":
                data[name] = None
        return data
