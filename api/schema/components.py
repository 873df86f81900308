"""What the schema of /v1/ declares once: the shared headers, the error envelope, the generic
errors with their examples, the Idempotency-Key header, and the rules of the request fields
that keep one meaning on every route (API.md §1-§2)."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from api import errors

EXAMPLE_REQUEST_ID = "01JTBQH2FZ8K1RXC0WJ4Z9P3VM"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

HEADERS = {
    "X-Request-Id": {
        "description": "The request's id (a ULID); equals `error.request_id` on errors.",
        "schema": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{26}$"},
        "required": True,
    },
    "Retry-After": {
        "description": "Whole seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
    },
    "Location": {
        "description": "Where to poll the resource that was created.",
        "schema": {"type": "string"},
        "required": True,
    },
    "WWW-Authenticate": {"schema": {"type": "string", "enum": ["Bearer"]}, "required": True},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}

# The request fields of API.md §2 keep one meaning and one rule on every route; state the rules
# here once so that the schema (and schemathesis, which generates from it) knows them. Applied
# to request fields of these names where the serializer does not say more. Rules JSON Schema
# cannot express (N11 area codes, area code vs number type, Django's URL grammar) stay in the
# serializers; tests/hardening/test_fuzz_schema.py lists them.
NANP_AREA = "[2-9](?:1[02-9]|[02-9][0-9])"  # [2-9]XX without the N11 service codes
REQUEST_FIELD_RULES = {
    "area_code": {"type": "string", "pattern": f"^{NANP_AREA}$"},
    "pattern": {"type": "string", "pattern": "^[0-9A-Za-z]{1,10}$"},
    "contains": {"type": "string", "pattern": "^[0-9A-Za-z]{1,10}$"},
    "starts_with": {"type": "string", "pattern": "^[0-9A-Za-z]{1,10}$"},
    "ends_with": {"type": "string", "pattern": "^[0-9A-Za-z]{1,10}$"},
    "exchange": {"type": "string", "pattern": "^[2-9][0-9]{2}$"},
    "features": {
        "type": "array",
        "items": {"type": "string", "enum": ["sms", "mms", "voice"]},
        "uniqueItems": True,
        "maxItems": 3,
    },
    "mode": {
        "type": "string",
        "enum": ["atomic"],
        "description": "`atomic` only; `immediate_partial` is not yet available (422).",
    },
    "inbound_url": {"type": "string", "format": "uri", "pattern": "^https://"},
    "status_url": {"type": "string", "format": "uri", "pattern": "^https://"},
    "url": {"type": "string", "format": "uri", "pattern": "^https?://"},
    "number_type": {"type": "string", "enum": ["local", "toll_free"]},
    "numbers": {
        "items": {"type": "string", "pattern": f"^\\+1{NANP_AREA}[2-9][0-9]{{6}}$"},
        "uniqueItems": True,
    },
    "ids": {"items": {"type": "string", "format": "uuid"}},
    "events": {
        "type": "array",
        "items": {"type": "string", "enum": ["phone_number.bulk_order.completed"]},
        "minItems": 1,
        "maxItems": 10,
    },
}

IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Optional; 1-255 printable ASCII characters. Retrying with the same key and "
    "body returns the stored answer for 24 hours instead of running the request again.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7E]+$"},
}

ERROR_ENVELOPE = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": "string", "nullable": True},
                "details": {
                    "type": "object",
                    "description": "Per-field messages (422) or data about the error.",
                },
            },
        },
    },
}
ERROR_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}

# Which error classes each generic status stands for, and why a route can answer it.
GENERIC_ERRORS = {
    "400": (
        [errors.InvalidInput],
        "Malformed JSON, a body that is not an object, an unknown "
        "field, or an Accept header that excludes application/json.",
    ),
    "401": ([errors.Unauthorized], "Missing, malformed, unknown, revoked or expired API key."),
    "403": ([errors.Forbidden], "The key lacks the scope this route needs."),
    "404": ([errors.NotFound], "No such resource in your organization."),
    "405": ([errors.MethodNotAllowed], "The path exists but not with this method."),
    "409": ([errors.IdempotencyKeyInUse], "A request with this Idempotency-Key is running."),
    "413": ([errors.PayloadTooLarge], "The body is over 1 MiB."),
    "415": ([errors.UnsupportedMediaType], "The body is not application/json."),
    "422": ([errors.ValidationFailed], "A field breaks its rules; `details` names each."),
    "429": ([errors.RateLimited], "Too many write requests for your organization."),
    "500": ([errors.InternalError], "Unexpected error; nothing internal is disclosed."),
    "503": ([errors.ServiceUnavailable], "Database or broker unavailable; retry later."),
}


def error_example_value(error_class, *, details=None, message=None) -> dict:
    body = {
        "code": error_class.code,
        "message": message or error_class.message,
        "request_id": EXAMPLE_REQUEST_ID,
    }
    if details is not None:
        body["details"] = details
    return {"success": False, "error": body}


def error_example(error_class, *, details=None, message=None, name=None) -> OpenApiExample:
    return OpenApiExample(
        name or error_class.code,
        value=error_example_value(error_class, details=details, message=message),
        response_only=True,
    )


def error_response(*examples, description="") -> OpenApiResponse:
    """A declared error response for @extend_schema(responses={409: error_response(...)}).
    Each example is an error class, or (error class, details) / an OpenApiExample."""
    built = []
    for example in examples:
        if isinstance(example, OpenApiExample):
            built.append(example)
        elif isinstance(example, tuple):
            error_class, details = example
            built.append(error_example(error_class, details=details))
        else:
            built.append(error_example(example))
    description = description or "; ".join(e.name for e in built)
    return OpenApiResponse(response=ERROR_REF, description=description, examples=built)


def envelope(data_schema: dict, *, meta: bool = False) -> dict:
    schema = {
        "type": "object",
        "required": ["success", "data"],
        "properties": {"success": {"type": "boolean", "enum": [True]}, "data": data_schema},
    }
    if meta:
        schema["properties"]["meta"] = {"type": "object"}
    return schema


def header_ref(name: str) -> dict:
    return {"$ref": f"#/components/headers/{name}"}
