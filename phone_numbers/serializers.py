"""Request bodies, list filters and the phone-number resource (API.md §2)."""

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.utils import timezone
from rest_framework import serializers

from api.errors import ValidationFailed
from api.serializers import (
    HttpsURLField,
    InputSerializer,
    LabelField,
    NullableCharField,
    StrictCharField,
    StrictIntegerField,
    parse_uuid,
)
from phone_numbers import numbering
from phone_numbers.models import NumberType, PhoneNumber, Reservation

MAX_SEARCH_QUANTITY = 100
MAX_LISTED_NUMBERS = 100

NUMBER_TYPE_MESSAGE = "must be one of: local, toll_free"
PATTERN_MESSAGE = "must be 1 to 10 digits (0-9) or letters (A-Z, the keypad's: CALL means 2255)"
EXCHANGE_MESSAGE = "must be a string of 3 digits [2-9]XX"
FEATURES = ("sms", "mms", "voice")
FEATURES_MESSAGE = "must be a list of distinct features: sms, mms, voice"
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


class DigitsField(StrictCharField):
    """pattern / contains / starts_with / ends_with: 1-10 ASCII digits and letters, letters
    mapped to keypad digits (numbering.keypad_digits). The validated value is the digits."""

    default_error_messages = {"invalid": PATTERN_MESSAGE}

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"blank": PATTERN_MESSAGE, "null": PATTERN_MESSAGE})
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        digits = numbering.keypad_digits(super().to_internal_value(data))
        # ASCII only: full-width and other Unicode digits or letters are refused.
        if digits is None:
            self.fail("invalid")
        return digits


class ExchangeField(StrictCharField):
    default_error_messages = {"invalid": EXCHANGE_MESSAGE}

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"blank": EXCHANGE_MESSAGE, "null": EXCHANGE_MESSAGE})
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not numbering.is_exchange(value):
            self.fail("invalid")
        return value


class FeaturesField(serializers.ListField):
    def __init__(self, **kwargs):
        super().__init__(
            child=StrictCharField(trim_whitespace=False),
            max_length=len(FEATURES),
            error_messages=dict.fromkeys(("null", "not_a_list", "max_length"), FEATURES_MESSAGE),
            **kwargs,
        )

    def to_internal_value(self, data):
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError:
            # A bad item would be reported by index; one message for the field reads better.
            raise serializers.ValidationError(FEATURES_MESSAGE) from None
        if any(value not in FEATURES for value in values):
            raise serializers.ValidationError(FEATURES_MESSAGE)
        if len(set(values)) != len(values):
            raise serializers.ValidationError("must not contain duplicates")
        return sorted(values)


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
    """The criteria of API.md §2.1, one definition for search, bulk orders and quotes (same
    rules, same messages). `null` for any optional field means "any". Validated: `pattern`
    holds the digits of `pattern` or `contains` (the same criterion under two names);
    letters are already keypad digits; `features` is sorted."""

    number_type = NumberTypeField(required=False, default=numbering.LOCAL, trim_whitespace=False)
    area_code = AreaCodeField(required=False, allow_null=True, default=None, trim_whitespace=False)
    exchange = ExchangeField(required=False, allow_null=True, default=None, trim_whitespace=False)
    pattern = DigitsField(required=False, allow_null=True, default=None, trim_whitespace=False)
    contains = DigitsField(required=False, allow_null=True, default=None, trim_whitespace=False)
    starts_with = DigitsField(required=False, allow_null=True, default=None, trim_whitespace=False)
    ends_with = DigitsField(required=False, allow_null=True, default=None, trim_whitespace=False)
    features = FeaturesField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        errors = {}
        area_code = attrs.get("area_code")
        if area_code is not None:
            error = numbering.area_code_error(attrs["number_type"], area_code)
            if error:
                errors["area_code"] = error
        if attrs.get("exchange") is not None and area_code is None:
            errors["exchange"] = "needs area_code"
        if attrs.get("pattern") is not None and attrs.get("contains") is not None:
            errors["contains"] = "send pattern or contains, not both (they are the same)"
        if errors:
            raise serializers.ValidationError(errors)
        contains = attrs.pop("contains", None)
        if contains is not None:
            attrs["pattern"] = contains
        attrs["features"] = attrs.get("features") or []
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


# --- Reservations (API.md §2.2) --------------------------------------------------------------

MAX_RESERVED_NUMBERS = 100
RESERVATION_TTL_MIN, RESERVATION_TTL_MAX, RESERVATION_TTL_DEFAULT = 60, 4 * 60 * 60, 30 * 60
RESERVATION_NUMBERS_MESSAGE = f"must be a list of 1 to {MAX_RESERVED_NUMBERS} E.164 numbers"
TTL_MESSAGE = f"must be an integer from {RESERVATION_TTL_MIN} to {RESERVATION_TTL_MAX} (seconds)"


def _ttl_field(**kwargs):
    return StrictIntegerField(
        min_value=RESERVATION_TTL_MIN,
        max_value=RESERVATION_TTL_MAX,
        error_messages=dict.fromkeys(
            ("invalid", "required", "min_value", "max_value", "max_string_length", "null"),
            TTL_MESSAGE,
        ),
        **kwargs,
    )


class ReservationCreateInput(InputSerializer):
    numbers = serializers.ListField(
        child=E164Field(trim_whitespace=False),
        min_length=1,
        max_length=MAX_RESERVED_NUMBERS,
        error_messages={
            key: RESERVATION_NUMBERS_MESSAGE
            for key in ("required", "null", "not_a_list", "empty", "min_length", "max_length")
        },
    )
    ttl_seconds = _ttl_field(required=False, default=RESERVATION_TTL_DEFAULT)

    validate_numbers = ListedOrderInput.validate_numbers


class ReservationExtendInput(InputSerializer):
    ttl_seconds = _ttl_field()


class ReservationSerializer(serializers.Serializer):
    """The reservation resource: one definition to render and to document."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=[choice for choice, _ in Reservation.Status.choices])
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    reserved_numbers = serializers.ListField(child=serializers.CharField())
    ordered_numbers = serializers.ListField(child=serializers.CharField())
    unavailable_numbers = serializers.ListField(child=serializers.CharField())

    def to_representation(self, instance):
        numbers = list(instance.numbers.all())  # prefetched by the selector
        return super().to_representation(
            {
                "id": instance.id,
                "status": instance.effective_status(),
                "expires_at": instance.expires_at,
                "created_at": instance.created_at,
                "reserved_numbers": [row.number for row in numbers],
                "ordered_numbers": [row.number for row in numbers if row.ordered_at],
                "unavailable_numbers": instance.unavailable_numbers,
            }
        )


class PhoneNumberSerializer(serializers.ModelSerializer):
    """The phone-number resource (API.md §2). `created_at` is when the number was assigned to
    the organization (assigned_at): from the customer's side, that is when the resource
    began."""

    created_at = serializers.DateTimeField(source="assigned_at")
    inbound_url = NullableCharField()
    status_url = NullableCharField()
    label = NullableCharField()

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
            "voice_enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @classmethod
    def columns(cls) -> list[str]:
        """The model fields to_representation reads (`created_at` is `assigned_at`): the owned
        list selects just these, as `values_list(named=True)` rows, which render as model
        instances do."""
        declared = cls._declared_fields
        return [getattr(declared.get(name), "source", None) or name for name in cls.Meta.fields]

    def to_representation(self, number):
        """The fields above, rendered as DRF's fields render them, without a field object per
        value: a page of 100 numbers is the owned list's main cost (docs/benchmarks.md). A test
        compares this with the generic rendering (ModelSerializer.to_representation). `number`
        is a PhoneNumber or a row of columns()."""
        zone = timezone.get_current_timezone()
        return {
            "id": str(number.id),
            "number": number.number,
            "number_type": number.number_type,
            "area_code": number.area_code,
            "inbound_url": number.inbound_url or None,
            "status_url": number.status_url or None,
            "label": number.label or None,
            "sms_enabled": number.sms_enabled,
            "mms_enabled": number.mms_enabled,
            "voice_enabled": number.voice_enabled,
            "created_at": _iso(number.assigned_at, zone),
            "updated_at": _iso(number.updated_at, zone),
        }


def _iso(moment, zone):
    """DRF's DateTimeField rendering: ISO 8601 in the current time zone, UTC as "Z"."""
    if moment is None:
        return None
    text = moment.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class NumberPreviewSerializer(serializers.Serializer):
    """One result of POST /v1/phone-numbers/search."""

    number = serializers.CharField()
    number_type = serializers.ChoiceField(choices=numbering.NUMBER_TYPES)
    area_code = serializers.CharField()
    features = serializers.ListField(child=serializers.ChoiceField(choices=FEATURES))

    def to_representation(self, row):
        """The fields above, as DRF's fields render them, without a field object per value (a
        fifth of a search's CPU, docs/benchmarks.md; a test compares it with the generic
        rendering)."""
        return {
            "number": str(row["number"]),
            "number_type": str(row["number_type"]),
            "area_code": str(row["area_code"]),
            "features": [str(feature) for feature in row["features"]],
        }


class NumberReleasedSerializer(serializers.Serializer):
    """DELETE /v1/phone-numbers/{id}: `{"status": "released"}`."""

    status = serializers.ChoiceField(choices=["released"])


class BulkReleaseResultSerializer(serializers.Serializer):
    """POST /v1/phone-numbers/bulk/release: every unique id in exactly one list."""

    released = serializers.ListField(child=serializers.UUIDField())
    unknown = serializers.ListField(child=serializers.UUIDField())
    already_released = serializers.ListField(child=serializers.UUIDField())


# --- Owned numbers -----------------------------------------------------------------------------

MAX_RELEASE_IDS = 100
MAX_SEARCH_LENGTH = 64  # a label is at most 64 characters and a number 12: longer never matches
RELEASE_IDS_MESSAGE = f"must be a list of 1 to {MAX_RELEASE_IDS} phone-number ids"
NUMBER_ID_MESSAGE = "must be a phone-number id (a UUID)"


class NumberIdField(StrictCharField):
    default_error_messages = {"invalid": NUMBER_ID_MESSAGE}

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"blank": NUMBER_ID_MESSAGE, "null": NUMBER_ID_MESSAGE})
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return parse_uuid(super().to_internal_value(data))
        except ValidationFailed:
            self.fail("invalid")


class BulkReleaseInput(InputSerializer):
    """POST /v1/phone-numbers/bulk/release. Duplicates are allowed (and dropped later)."""

    ids = serializers.ListField(
        child=NumberIdField(),
        min_length=1,
        max_length=MAX_RELEASE_IDS,
        error_messages={
            key: RELEASE_IDS_MESSAGE
            for key in ("required", "null", "not_a_list", "empty", "min_length", "max_length")
        },
    )


class RoutingUpdateInput(InputSerializer):
    """PATCH /v1/phone-numbers/{id}: omitted or `null` leaves a field unchanged; `""` clears
    it. Any other field is 400 (InputSerializer)."""

    inbound_url = HttpsURLField(required=False, allow_null=True, allow_blank=True)
    status_url = HttpsURLField(required=False, allow_null=True, allow_blank=True)
    label = LabelField(required=False, allow_null=True, allow_blank=True)

    @staticmethod
    def changes(body: dict) -> dict:
        """The fields to change, from the validated body: the new value, or None to clear."""
        return {name: value or None for name, value in body.items() if value is not None}


class _AreaCodeFormField(forms.CharField):
    def validate(self, value):
        super().validate(value)
        if value and not (
            numbering.is_local_area_code(value) or numbering.is_toll_free_prefix(value)
        ):
            raise DjangoValidationError(
                "must be a local area code ([2-9]XX, not N11) or a toll-free prefix",
                code="invalid",
            )


class AreaCodeFilter(django_filters.CharFilter):
    field_class = _AreaCodeFormField


class OwnedNumberFilter(django_filters.FilterSet):
    """Query filters of GET /v1/phone-numbers. A bad value is 422 with details keyed by the
    parameter (the view turns the form errors into ValidationFailed)."""

    number_type = django_filters.ChoiceFilter(
        choices=NumberType.choices, error_messages={"invalid_choice": NUMBER_TYPE_MESSAGE}
    )
    area_code = AreaCodeFilter()
    label = django_filters.CharFilter(
        max_length=64,
        error_messages={"max_length": "must be at most 64 characters"},
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=MAX_SEARCH_LENGTH,
        error_messages={"max_length": f"must be at most {MAX_SEARCH_LENGTH} characters"},
    )

    class Meta:
        model = PhoneNumber
        fields = []

    def filter_search(self, queryset, name, value):
        # A substring of the number or of the label, any case. Scoped to one organization's
        # numbers (the owned index), so the substring test reads only that organization's rows.
        return queryset.filter(Q(number__icontains=value) | Q(label__icontains=value))
