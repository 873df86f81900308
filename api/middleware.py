import time

import structlog
from django.conf import settings
from django.core.signals import request_finished
from django.http import JsonResponse
from ulid import ULID

from api import metrics
from api.errors import PayloadTooLarge, error_body

log = structlog.get_logger("request")


class RequestIdMiddleware:
    """Gives every request a fresh ULID: bound into every log line of the request (and every
    task it enqueues, see api.logging) and answered in `X-Request-Id`. Then logs the request
    line and counts the request in the metrics (api.metrics).

    The id stays bound until Django's request_finished signal, not just until this middleware
    returns: Django logs 4xx/5xx answers ("django.request") after the whole middleware chain,
    and those lines must carry the id too. The API key's authentication binds the organization
    id and key prefix the same way, so they are in the request line and every line after."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = str(ULID())
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        request.request_id = request_id
        started = time.perf_counter()
        response = self.get_response(request)
        duration = time.perf_counter() - started
        response["X-Request-Id"] = request_id
        route = route_template(request)
        log.info(
            "request",
            method=request.method,
            path=request.path,
            route=route,
            status=response.status_code,
            duration_ms=round(duration * 1000, 1),
            client_ip=client_ip(request),
        )
        method = request.method if request.method in KNOWN_METHODS else "other"
        metrics.HTTP_REQUESTS.labels(
            route=route, method=method, status=str(response.status_code)
        ).inc()
        metrics.HTTP_REQUEST_DURATION.labels(route=route, method=method).observe(duration)
        return response


# A label value per method a client invents would be a series per invention.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"


def route_template(request) -> str:
    """The URL pattern that served the request (`v1/phone-numbers/<uuid:id>`), never the path:
    a label per path would be a time series per phone number."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return UNMATCHED_ROUTE
    return "/" + match.route


def client_ip(request) -> str:
    """The socket's peer, or with TRUST_X_FORWARDED_FOR the last address of X-Forwarded-For:
    the one our own proxy appended (earlier ones are whatever the client wrote)."""
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return request.META.get("REMOTE_ADDR", "")


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
