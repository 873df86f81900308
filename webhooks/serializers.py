import ipaddress

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from urllib3.util import parse_url

from api.serializers import HttpsURLField, InputSerializer, StrictCharField
from webhooks.models import EVENT_TYPES
from webhooks.transport import is_public_address

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
        parts = parse_url(value)
        if parts.auth:
            raise serializers.ValidationError("must not contain a user name or password")
        if not settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
            # Names are checked when each delivery is sent (they can change); an address
            # literal can be refused now.
            try:
                address = ipaddress.ip_address(parts.host.strip("[]"))
            except ValueError:
                address = None
            if address is not None and not is_public_address(address):
                raise serializers.ValidationError(
                    "must not point to a private, loopback or reserved address"
                )
        return value

    def validate_description(self, value):
        if not value.isprintable():
            raise serializers.ValidationError(
                "must be a string of at most 256 printable characters"
            )
        return value
