from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import BasePermission

from api.errors import Forbidden, MethodNotAllowed, Unauthorized


def serves_method(view, request) -> bool:
    """Whether the route answers this method at all. OPTIONS is not served: the API has no
    browser clients (no CORS), and DRF's metadata answer is not in the envelope."""
    method = request.method.lower()
    if method == "options" or method not in view.http_method_names:
        return False
    if getattr(view, "action_map", None) is not None:  # a viewset: the router's method map
        return view.action is not None
    return hasattr(view, method)


def ensure_method_allowed(view, request) -> None:
    """405 in the envelope, checked before authentication (see ApiKeyAuthentication), so a
    wrong method on a known path is 405 with or without a key, never 401."""
    if not serves_method(view, request):
        raise MethodNotAllowed()


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
        # Also checked by the authentication class; kept here for views that use other
        # authentication (a route must never run a handler it does not have).
        ensure_method_allowed(view, request)
        if request.auth is None:
            raise Unauthorized()
        scope = required_scope(view, request)
        if scope not in request.auth.scopes:
            raise Forbidden()
        return True


def has_scope(request, scope: str) -> bool:
    return request.auth is not None and scope in request.auth.scopes
