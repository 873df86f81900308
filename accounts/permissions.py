from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import BasePermission

from config.errors import Forbidden, MethodNotAllowed, Unauthorized


def required_scope(view, request) -> str:
    """The scope a view declares for this request: `required_scopes` maps a viewset action (or
    an APIView's lower-case method) to one scope. A route that declares none is a bug, never an
    open door."""
    scopes = getattr(view, "required_scopes", None)
    action = getattr(view, "action", None) or request.method.lower()
    if action == "head":  # Django serves HEAD with the GET handler; it needs GET's scope
        action = "get"
    if not scopes or action not in scopes:
        raise ImproperlyConfigured(f"{type(view).__name__} declares no scope for {action!r}")
    return scopes[action]


class HasRequiredScope(BasePermission):
    def has_permission(self, request, view):
        # A method the route does not serve is 405 before anything else is checked. OPTIONS is
        # not served (DEFAULT_METADATA_CLASS is None): no scope is declared for it.
        if request.method == "OPTIONS":
            raise MethodNotAllowed()
        if getattr(view, "action_map", None) is not None and view.action is None:
            raise MethodNotAllowed()
        if not hasattr(view, request.method.lower()) and not getattr(view, "action_map", None):
            raise MethodNotAllowed()
        if request.auth is None:
            raise Unauthorized()
        scope = required_scope(view, request)
        if scope not in request.auth.scopes:
            raise Forbidden()
        return True


def has_scope(request, scope: str) -> bool:
    return request.auth is not None and scope in request.auth.scopes
