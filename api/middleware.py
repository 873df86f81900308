import time

import structlog
from django.conf import settings
from django.core.signals import request_finished
from django.http import JsonResponse
from ulid import ULID

from api.errors import PayloadTooLarge, error_body

log = structlog.get_logger("request")


class RequestIdMiddleware:
    """Gives every request a fresh ULID: bound into every log line of the request (and every
    task it enqueues, see api.logging) and answered in `X-Request-Id`.

    The id stays bound until Django's request_finished signal, not just until this middleware
    returns: Django logs 4xx/5xx answers ("django.request") after the whole middleware chain,
    and those lines must carry the id too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = str(ULID())
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        request.request_id = request_id
        started = time.perf_counter()
        response = self.get_response(request)
        response["X-Request-Id"] = request_id
        log.info(
            "request",
            method=request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return response


def _forget_request_id(**kwargs):
    structlog.contextvars.clear_contextvars()


request_finished.connect(_forget_request_id, dispatch_uid="api.middleware.forget_request_id")


class BodySizeLimitMiddleware:
    """Refuses an API body over API_MAX_BODY_BYTES by its Content-Length, before a byte of it is
    read. (The JSON parser enforces the same cap while reading, for bodies that lie about their
    length.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/v1/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.API_MAX_BODY_BYTES:
                return JsonResponse(error_body(PayloadTooLarge()), status=413)
        return self.get_response(request)
