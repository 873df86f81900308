"""Every error the API can answer with is a class here with its code and HTTP status, and one
exception handler turns any exception into the envelope of API.md §1. Views raise; they never
build an error body."""

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from api.request_id import current_request_id

log = structlog.get_logger(__name__)


class ApiError(Exception):
    status_code = 500
    code = "INTERNAL_ERROR"
    message = "internal error"

    def __init__(self, message=None, *, details=None, headers=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        self.headers = headers or {}


class InvalidInput(ApiError):
    status_code, code, message = 400, "INVALID_INPUT", "invalid input"


class Unauthorized(ApiError):
    status_code, code, message = 401, "UNAUTHORIZED", "authentication failed"

    def __init__(self):
        # One body for every cause (missing, malformed, unknown, revoked, expired key).
        super().__init__(headers={"WWW-Authenticate": "Bearer"})


class InsufficientCredit(ApiError):
    status_code, code, message = 402, "INSUFFICIENT_CREDIT", "insufficient credit"

    def __init__(self, *, required_cents, available_cents):
        super().__init__(
            details={"required_cents": required_cents, "available_cents": available_cents}
        )


class Forbidden(ApiError):
    status_code, code, message = 403, "FORBIDDEN", "missing required scope"


class NotFound(ApiError):
    status_code, code, message = 404, "NOT_FOUND", "not found"


class MethodNotAllowed(ApiError):
    status_code, code, message = 405, "METHOD_NOT_ALLOWED", "method not allowed"


class InsufficientInventory(ApiError):
    status_code, code, message = 409, "INSUFFICIENT_INVENTORY", "insufficient inventory"


class ReservationNotActive(ApiError):
    status_code, code, message = 409, "RESERVATION_NOT_ACTIVE", "the reservation is not active"


class IdempotencyKeyInUse(ApiError):
    status_code, code = 409, "IDEMPOTENCY_KEY_IN_USE"
    message = "a request with this idempotency key is still being processed"

    def __init__(self):
        super().__init__(headers={"Retry-After": "1"})


class OrderNotProcessing(ApiError):
    """A cancel of an order that already ended; `status` is the terminal status it has."""

    status_code, code, message = 409, "ORDER_NOT_PROCESSING", "the order is not processing"

    def __init__(self, *, status: str):
        super().__init__(details={"status": status})
        self.status = status


class PayloadTooLarge(ApiError):
    status_code, code, message = 413, "PAYLOAD_TOO_LARGE", "request body is larger than 1 MiB"


class UnsupportedMediaType(ApiError):
    status_code, code = 415, "UNSUPPORTED_MEDIA_TYPE"
    message = "request body must be application/json"


class ValidationFailed(ApiError):
    status_code, code, message = 422, "VALIDATION_FAILED", "validation failed"

    def __init__(self, details):
        super().__init__(details=details)


class IdempotencyKeyReused(ApiError):
    status_code, code = 422, "IDEMPOTENCY_KEY_REUSED"
    message = "this idempotency key was already used with a different request"


class RateLimited(ApiError):
    status_code, code, message = 429, "RATE_LIMITED", "rate limit exceeded"

    def __init__(self, *, retry_after):
        super().__init__(headers={"Retry-After": str(max(1, int(retry_after)))})


class InternalError(ApiError):
    pass


class ServiceUnavailable(ApiError):
    status_code, code, message = 503, "SERVICE_UNAVAILABLE", "service temporarily unavailable"

    def __init__(self, *, retry_after=5, details=None):
        super().__init__(details=details, headers={"Retry-After": str(retry_after)})


def error_body(error: ApiError) -> dict:
    body = {"code": error.code, "message": error.message, "request_id": current_request_id()}
    if error.details is not None:
        body["details"] = error.details
    return {"success": False, "error": body}


def error_response(error: ApiError) -> Response:
    return Response(error_body(error), status=error.status_code, headers=error.headers)


def flatten_validation_errors(detail, prefix="") -> dict:
    """DRF's nested dicts/lists of messages -> API.md's flat map of field -> one message.
    Nested keys are joined with dots (`numbers.3`); errors not tied to a field are `body`."""
    if isinstance(detail, dict):
        items = detail.items()
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        items = ((index, item) for index, item in enumerate(detail) if item)
    else:
        message = detail[0] if isinstance(detail, list) and detail else detail
        return {prefix or "body": str(message)}
    flat = {}
    for key, value in items:
        name = (
            prefix
            if key in ("non_field_errors", None)
            else ".".join(part for part in (prefix, str(key)) if part)
        )
        flat.update(flatten_validation_errors(value, name))
    return flat


def to_api_error(exc) -> ApiError:
    """Map any exception to one of ours; anything unknown is a 500 that leaks nothing."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, drf.ValidationError):
        return ValidationFailed(flatten_validation_errors(exc.detail))
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return Unauthorized()
    if isinstance(exc, drf.PermissionDenied | DjangoPermissionDenied):
        return Forbidden()
    if isinstance(exc, drf.NotFound | Http404):
        return NotFound()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed()
    if isinstance(exc, drf.UnsupportedMediaType):
        return UnsupportedMediaType()
    if isinstance(exc, drf.ParseError):
        return InvalidInput(str(exc.detail))
    if isinstance(exc, drf.Throttled):
        return RateLimited(retry_after=exc.wait or 1)
    if isinstance(exc, drf.NotAcceptable):
        return InvalidInput("this route only answers application/json")
    if isinstance(exc, OperationalError | InterfaceError):
        log.error("database_unavailable", exc_info=exc)
        return ServiceUnavailable()
    if isinstance(exc, DatabaseError):
        log.error("database_error", exc_info=exc)
        return InternalError()
    log.error("unhandled_exception", exc_info=exc)
    return InternalError()


def api_exception_handler(exc, context):
    response = error_response(to_api_error(exc))
    if response.status_code >= 500 and not isinstance(exc, ApiError):
        # to_api_error logged it with its traceback and the request id; Django would log the
        # 500 a second time (without either). Its own marker for "already logged" says not to.
        response._has_been_logged = True
    # DRF marks the transaction for rollback only for its own handler; do the same here so a
    # failed request inside ATOMIC_REQUESTS-style blocks never commits half its work.
    from rest_framework.views import set_rollback

    set_rollback()
    return response
