from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import BasePermission

from api.errors import Forbidden, Unauthorized


def required_scope(view, request) -> str:
    """The scope a view declares for this request: `required_scopes` maps a viewset action (or
    an APIView's lower-case method) to one scope. A route that declares none is a bug, never an
    open door. HEAD needs what GET needs."""
    scopes = getattr(view, "required_scopes", None)
    method = "get" if request.method == "HEAD" else request.method.lower()
    action = getattr(view, "action", None) or method
    if not scopes or action not in scopes:
        raise ImproperlyConfigured(f"{type(view).__name__} declares no scope for {action!r}")
    return scopes[action]


class HasRequiredScope(BasePermission):
    def has_permission(self, request, view):
        if request.auth is None:
            raise Unauthorized()
        scope = required_scope(view, request)
        if scope not in request.auth.scopes:
            raise Forbidden()
        return True


def has_scope(request, scope: str) -> bool:
    return request.auth is not None and scope in request.auth.scopes
