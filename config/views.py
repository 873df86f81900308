from django.db import connection
from django.http import JsonResponse

from api.errors import ServiceUnavailable, error_body
from config.celery_app import app as celery_app


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
