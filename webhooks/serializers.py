import ipaddress

import django_filters
from django import forms
from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from urllib3.util import parse_url

from api.serializers import (
    HttpsURLField,
    InputSerializer,
    NullableCharField,
    StrictBooleanField,
    StrictCharField,
)
from webhooks.models import EVENT_TYPES, WebhookDelivery
from webhooks.transport import is_public_address

TARGET_NOT_ALLOWED = "target address not allowed"
DESCRIPTION_MESSAGE = "must be a string of at most 256 printable characters"


def target_url_problem(value: str) -> str | None:
    """What is wrong with an endpoint URL that already parsed as an http(s) URL, for the API
    and the admin alike; None when it may be used. Names are checked again when each delivery
    is sent (they can change); what needs no DNS is refused now."""
    parts = parse_url(value)
    if parts.auth:
        return "must not contain a user name or password"
    if settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if port not in settings.WEBHOOKS_ALLOWED_PORTS:
        allowed = ", ".join(str(p) for p in settings.WEBHOOKS_ALLOWED_PORTS)
        return f"{TARGET_NOT_ALLOWED}: the port must be one of {allowed}"
    try:
        address = ipaddress.ip_address(parts.host.strip("[]"))
    except ValueError:
        return None
    if not is_public_address(address):
        return TARGET_NOT_ALLOWED
    return None


MAX_EVENTS = 10
EVENTS_MESSAGE = f"must be a non-empty list of event types from: {', '.join(EVENT_TYPES)}"


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": sorted(EVENT_TYPES)},
        "minItems": 1,
        "maxItems": MAX_EVENTS,
    }
)
class EventTypesField(serializers.Field):
    default_error_messages = {"invalid": EVENTS_MESSAGE}

    def to_internal_value(self, data):
        if not isinstance(data, list) or not 1 <= len(data) <= MAX_EVENTS:
            self.fail("invalid")
        if not all(isinstance(item, str) and item in EVENT_TYPES for item in data):
            self.fail("invalid")
        return sorted(set(data))


class WebhookEndpointCreateInput(InputSerializer):
    url = HttpsURLField(
        error_messages={"required": "is required", "null": "is required"},
    )
    events = EventTypesField(error_messages={"required": "is required", "null": EVENTS_MESSAGE})
    description = StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=256,
        error_messages={
            "invalid": "must be a string of at most 256 printable characters",
            "null": "must be a string of at most 256 printable characters",
            "max_length": "must be a string of at most 256 printable characters",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read per request, so the development setting can change without a restart of tests.
        allow_private = settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS
        self.fields["url"].allow_http = allow_private
        if allow_private:
            self.fields["url"].error_messages["invalid"] = (
                "must be an absolute https:// or http:// URL of at most 2048 characters"
            )

    def validate_url(self, value):
        problem = target_url_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_description(self, value):
        if not value.isprintable():
            raise serializers.ValidationError(
                "must be a string of at most 256 printable characters"
            )
        return value


class WebhookEndpointUpdateInput(WebhookEndpointCreateInput):
    """PATCH: any of the fields, each under the same rules as POST, and `enabled`."""

    url = HttpsURLField(required=False, error_messages={"null": "is required"})
    events = EventTypesField(required=False, error_messages={"null": EVENTS_MESSAGE})
    description = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=256,
        error_messages={
            "invalid": DESCRIPTION_MESSAGE,
            "null": DESCRIPTION_MESSAGE,
            "max_length": DESCRIPTION_MESSAGE,
        },
    )
    enabled = StrictBooleanField(
        required=False,
        error_messages={"invalid": "must be true or false", "null": "must be true or false"},
    )


# --- Answers ---------------------------------------------------------------------------------


class WebhookEndpointSerializer(serializers.Serializer):
    """A webhook endpoint as every route answers it (never with its secret, but at creation)."""

    id = serializers.UUIDField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField(allow_blank=True, allow_null=True)
    enabled = serializers.BooleanField(source="is_active")
    previous_secret_expires_at = serializers.SerializerMethodField(
        help_text="Until then the secret replaced by the last rotation signs deliveries too."
    )
    created_at = serializers.DateTimeField()

    @extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
    def get_previous_secret_expires_at(self, endpoint):
        expires = endpoint.previous_secret_expires_at
        if not endpoint.previous_secret_encrypted or not expires or expires <= timezone.now():
            return None
        return serializers.DateTimeField().to_representation(expires)


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """POST /v1/webhooks: the endpoint with its signing secret, shown only in this answer (and
    in its Idempotency-Key replay). The view passes `{"endpoint": ..., "secret": ...}`."""

    secret = serializers.CharField(help_text="The signing secret; shown only in this answer.")


class WebhookEndpointDeletedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["deleted"])


class DeliveryAttemptSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.IntegerField(allow_null=True)
    error = NullableCharField()
    succeeded = serializers.BooleanField()


class WebhookDeliverySerializer(serializers.Serializer):
    """A delivery with its attempts, oldest first (webhooks.selectors prefetches them)."""

    id = serializers.UUIDField()
    event_id = serializers.CharField()
    event_type = serializers.CharField(source="event.type")
    endpoint_id = serializers.UUIDField()
    replay_of = serializers.UUIDField(source="replay_of_id", allow_null=True)
    url = serializers.CharField(source="endpoint.url")
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempt_count = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = NullableCharField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    attempts = DeliveryAttemptSerializer(many=True)


class _PresentMeansGiven:
    """A query parameter sent empty (`?status=`) is a bad value, not "any" (django-filter's
    default): this route has always answered it 422."""

    def clean(self, value):
        if value == "":
            raise forms.ValidationError(self.error_messages[self.empty_code], code=self.empty_code)
        return super().clean(value)


class _StatusFilter(django_filters.ChoiceFilter):
    class field_class(_PresentMeansGiven, django_filters.ChoiceFilter.field_class):  # noqa: N801
        empty_code = "invalid_choice"


class _UUIDFilter(django_filters.UUIDFilter):
    class field_class(_PresentMeansGiven, forms.UUIDField):  # noqa: N801
        empty_code = "invalid"


class WebhookDeliveryFilter(django_filters.FilterSet):
    status = _StatusFilter(
        choices=WebhookDelivery.Status.choices,
        error_messages={
            "invalid_choice": f"must be one of {', '.join(WebhookDelivery.Status.values)}"
        },
    )
    endpoint_id = _UUIDFilter(error_messages={"invalid": "must be a UUID"})

    class Meta:
        model = WebhookDelivery
        fields = ["status", "endpoint_id"]
