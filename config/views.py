from django.db import connection
from django.http import JsonResponse
from rest_framework.views import APIView

from config.celery_app import app as celery_app
from config.errors import InternalError, NotFound, ServiceUnavailable, error_body


def healthz(request):
    """The process answers. No database, no auth."""
    return JsonResponse({"success": True, "data": {"status": "ok"}})


def readyz(request):
    """Database and broker reachable; 503 with Retry-After otherwise."""
    checks = {"database": "ok", "broker": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any failure to talk to the database means "not ready"
        checks["database"] = "unavailable"
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.5, timeout=2)
    except Exception:  # same for the broker
        checks["broker"] = "unavailable"
    if all(value == "ok" for value in checks.values()):
        return JsonResponse({"success": True, "data": checks})
    error = ServiceUnavailable(details=checks)
    return JsonResponse(error_body(error), status=error.status_code, headers=error.headers)


class UnknownApiRoute(APIView):
    """Any /v1/ path no route matched: 404 in the envelope, for every method."""

    authentication_classes = []
    permission_classes = []

    def initial(self, request, *args, **kwargs):
        raise NotFound()


def _is_api(request) -> bool:
    return request.path == "/v1" or request.path.startswith("/v1/")


def handler404(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body(NotFound()), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return JsonResponse(error_body(InternalError()), status=500)
    from django.views.defaults import server_error

    return server_error(request)
