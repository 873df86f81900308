"""Bodies and answers of the API-key routes (API.md §7): one definition renders an answer and
documents it."""

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import scopes as known_scopes
from api.serializers import InputSerializer, LabelField, StrictIntegerField

MAX_SCOPES = 20
SCOPES_MESSAGE = "must be a non-empty list of scope names"
DEFAULT_GRACE_SECONDS = 3600
MAX_GRACE_SECONDS = 86_400


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": list(known_scopes.GRANTABLE_THROUGH_API)},
        "minItems": 1,
        "maxItems": len(known_scopes.GRANTABLE_THROUGH_API),
        "uniqueItems": True,
    }
)
class ScopeListField(serializers.Field):
    """A list of strings; which names are known, repeated or grantable is the service's rule
    (400 / 403), so the list is passed on as given."""

    default_error_messages = {"invalid": SCOPES_MESSAGE}

    def to_internal_value(self, data):
        if not isinstance(data, list) or not 1 <= len(data) <= MAX_SCOPES:
            self.fail("invalid")
        if not all(isinstance(item, str) for item in data):
            self.fail("invalid")
        return data


class StrictDateTimeField(serializers.DateTimeField):
    """An ISO 8601 string with a time zone; a number or a naive time is an error, not a guess."""

    default_error_messages = {"invalid": "must be an ISO 8601 date-time with a time zone"}

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid")
        try:
            naive_or_aware = parse_datetime(value)
        except ValueError:
            naive_or_aware = None
        if naive_or_aware is None or naive_or_aware.tzinfo is None:
            self.fail("invalid")
        return super().to_internal_value(value)


class ApiKeyCreateInput(InputSerializer):
    label = LabelField(required=False, allow_blank=True, default="")
    scopes = ScopeListField(error_messages={"required": "is required", "null": SCOPES_MESSAGE})
    expires_at = StrictDateTimeField(required=False, allow_null=True, default=None)

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("must be in the future")
        return value


class ApiKeyRotateInput(InputSerializer):
    grace_seconds = StrictIntegerField(
        required=False,
        default=DEFAULT_GRACE_SECONDS,
        min_value=0,
        max_value=MAX_GRACE_SECONDS,
        help_text="how long the replaced secret keeps working (default 3600)",
        error_messages={
            message: f"must be an integer from 0 to {MAX_GRACE_SECONDS}"
            for message in ("invalid", "null", "min_value", "max_value", "max_string_length")
        },
    )


class ApiKeySerializer(serializers.Serializer):
    """A key as GET /v1/api-keys lists it: never a secret."""

    id = serializers.UUIDField()
    prefix = serializers.CharField(help_text="the first 12 characters of the current secret")
    label = serializers.CharField(allow_blank=True)
    scopes = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeyWithSecretSerializer(ApiKeySerializer):
    """A key just created or rotated, with its secret: shown in this answer only."""

    secret = serializers.CharField(help_text="shown once; only its hash is stored")


class ApiKeyRotatedSerializer(ApiKeyWithSecretSerializer):
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text="when the replaced secret stops working (null: it already has)",
    )
