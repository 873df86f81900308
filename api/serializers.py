"""Input handling shared by every route: strict types (API.md §1: "5", 5.5, true and null are
not integers; a number is not a string) and unknown fields refused with 400."""

import copy
import re
import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from rest_framework import serializers

from api.errors import InvalidInput, ValidationFailed


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if type(data) is not int:  # bool is a subclass of int: excluded on purpose
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class InputSerializer(serializers.Serializer):
    """Base for request bodies: a field the route does not know is 400 INVALID_INPUT."""

    def get_fields(self):
        """The declared fields, each copied shallowly for this instance. DRF deep-copies them,
        which builds every field again through its __init__ on every request (0.19 ms of a
        bulk order's 14 fields, issue 20). An input field keeps nothing of a request: the
        serializer holds the data, the values and the errors. Binding sets the copy's own
        attributes; the two a serializer's __init__ may adjust per request in place
        (error_messages; validators, a list a field with min_value or max_value builds when it
        is declared) are copied too, so adjusting one never touches the declared field
        (tests/api/test_input_serializer.py). A ListField's child is shared: nothing adjusts it."""
        fields = {}
        for name, declared in self._declared_fields.items():
            field = copy.copy(declared)
            field.error_messages = dict(declared.error_messages)
            field.validators = list(declared.validators)
            fields[name] = field
        return fields

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise InvalidInput("request body must be a JSON object")
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise InvalidInput(
                "request body has unknown fields",
                details={name[:100]: "unknown field" for name in unknown[:20]},
            )
        return super().to_internal_value(data)


def validated_body(request, serializer_class, **context) -> dict:
    """Parse and validate a JSON object body, raising the envelope's errors (400/413/415/422)."""
    data = request.data  # parse first: 413/415/400 take precedence over "empty"
    if request.stream is None:
        raise InvalidInput("request body must be a JSON object")
    serializer = serializer_class(data=data, context={"request": request, **context})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class HttpsURLField(StrictCharField):
    """An absolute https:// URL of at most 2048 characters (API.md §2). `allow_http` lets a
    development setting accept plain http:// (webhooks, see WEBHOOKS_ALLOW_PRIVATE_TARGETS)."""

    default_error_messages = {
        "invalid": "must be an absolute https:// URL of at most 2048 characters"
    }

    def __init__(self, *, allow_http=False, **kwargs):
        self.allow_http = allow_http
        kwargs.setdefault("max_length", 2048)
        kwargs.setdefault("error_messages", {"max_length": self.default_error_messages["invalid"]})
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value == "":
            return value
        schemes = ("https", "http") if self.allow_http else ("https",)
        try:
            URLValidator(schemes=list(schemes))(value)
        except DjangoValidationError:
            self.fail("invalid")
        if any(ch.isspace() or not ch.isprintable() for ch in value):
            self.fail("invalid")
        return value


class LabelField(StrictCharField):
    """At most 64 printable characters."""

    default_error_messages = {"invalid": "must be at most 64 printable characters"}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("error_messages", {"max_length": self.default_error_messages["invalid"]})
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        # isprintable() refuses control characters and also format characters such as
        # right-to-left marks, which make a label display as something it is not.
        if not value.isprintable():
            self.fail("invalid")
        return value


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def parse_uuid(raw, *, field: str = "id") -> uuid.UUID:
    """A resource id from a path or body as the API writes ids (8-4-4-4-12 hex digits, any
    case); anything else is 422 with details[field]."""
    if not isinstance(raw, str) or not _UUID.fullmatch(raw):
        raise ValidationFailed({field: "must be a UUID"})
    return uuid.UUID(raw)


class StringListField(serializers.ListField):
    """A list of strings rendered as it is (a 10,000-number order is not passed through a
    CharField per item); documented as an array of strings."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField())
        super().__init__(**kwargs)

    def to_representation(self, data):
        return list(data)


class NullableCharField(serializers.CharField):
    """A nullable string of the API: unset ("" or None) is rendered null (API.md §2)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        # A serializer renders a None attribute as null without calling to_representation.
        return super().get_attribute(instance) or None
