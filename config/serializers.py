"""Input handling shared by every route: strict types (API.md §1: "5", 5.5, true and null are
not integers; a number is not a string) and unknown fields refused with 400."""

from rest_framework import serializers

from config.errors import InvalidInput


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
