import time

import structlog
from django.conf import settings
from django.core.signals import request_finished
from django.http import HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
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


def allow_body_up_to(max_bytes: int):
    """Marks a view (the outermost wrapper, as the URL resolver returns it) as taking bodies up
    to max_bytes instead of MAX_REQUEST_BODY_BYTES: BodySizeLimitMiddleware reads the mark."""

    def mark(view):
        view.max_body_bytes = max_bytes
        return view

    return mark


def _declared_length(request) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


class BodySizeLimitMiddleware:
    """Refuses a body over MAX_REQUEST_BODY_BYTES (1 MiB) on every route by its Content-Length,
    before a byte of it is read: before CSRF or the admin's login check could parse a form, so
    an anonymous client cannot make the process spool a large upload to a temporary file. A
    view marked with allow_body_up_to (the admin's CSV import) has its own larger cap, checked
    the same way. /v1/ answers in the envelope; other routes with a plain 413. (WSGI reads no
    more than Content-Length, and a request without one has an empty body; the JSON parser
    enforces the cap again while reading.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = _declared_length(request)
        if length > settings.MAX_REQUEST_BODY_BYTES and length > self._limit_for(request):
            if request.path.startswith("/v1/"):
                return JsonResponse(error_body(PayloadTooLarge()), status=413)
            return HttpResponse(
                "Request body too large.\n", status=413, content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)

    @staticmethod
    def _limit_for(request) -> int:
        # Resolved only for the rare oversized request, not on every request.
        try:
            view = resolve(request.path_info).func
        except Resolver404:
            return settings.MAX_REQUEST_BODY_BYTES
        return getattr(view, "max_body_bytes", settings.MAX_REQUEST_BODY_BYTES)


class ApiNoStoreMiddleware:
    """Every /v1/ answer carries `Cache-Control: no-store`: some show a secret once (a new key,
    a webhook secret) and all are one organization's data, which no shared or browser cache
    should keep."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/v1/"):
            response["Cache-Control"] = "no-store"
        return response


class ContentSecurityPolicyMiddleware:
    """A Content-Security-Policy on every answer that has none: HTML pages (the admin, /docs/)
    get CSP_HTML_POLICY, which allows only this origin's scripts (no inline script, no other
    host); everything else (JSON) gets CSP_DEFAULT_POLICY, which allows nothing at all."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            is_html = response.get("Content-Type", "").startswith("text/html")
            response["Content-Security-Policy"] = (
                settings.CSP_HTML_POLICY if is_html else settings.CSP_DEFAULT_POLICY
            )
        return response
