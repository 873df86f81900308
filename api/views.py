"""The base of every /v1/ view, and the envelope for what no route answers (unknown /v1/ paths,
Django's 404/500 handlers), and the Prometheus scrape route (`metrics`).

A /v1/ view derives from ApiView (one handler per method) or ApiViewSet (actions). Either way:
1. a method the route does not serve is 405, before authentication, so it is 405 with or
   without a key, never 401;
2. then DRF's authentication, the scope permission (accounts.permissions: every view declares
   `required_scopes`, per action or lower-case method) and the write rate limit;
3. a viewset's path id (`<id>`) is a UUID, else 422 with details.id; an object outside the
   view's get_queryset() (unknown, another organization's) is 404;
4. list filters come from the view's `filterset_class` (django-filter's DRF backend); a bad
   value is 422 naming the parameter.
"""

import hmac
import uuid

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from api.errors import InternalError, MethodNotAllowed, NotFound, error_body
from api.metrics import render_metrics
from api.serializers import parse_uuid


def serves_method(view, request) -> bool:
    """Whether the route answers this method at all. OPTIONS is not served: the API has no
    browser clients (no CORS), and DRF's metadata answer is not in the envelope."""
    method = request.method.lower()
    if method == "options" or method not in view.http_method_names:
        return False
    if getattr(view, "action_map", None) is not None:  # a viewset: the router's method map
        return view.action is not None
    return hasattr(view, method)


class _ApiViewBase:
    def initial(self, request, *args, **kwargs):
        if not serves_method(self, request):
            raise MethodNotAllowed()
        super().initial(request, *args, **kwargs)


class ApiView(_ApiViewBase, APIView):
    """A /v1/ route with one handler per HTTP method (see the module docstring)."""


class ApiViewSet(_ApiViewBase, GenericViewSet):
    """A /v1/ resource with actions (see the module docstring). Subclasses define
    get_queryset() scoped to `self.request.organization`, and `queryset = Model.objects.none()`
    to name the model for the schema (which is generated without a request)."""

    lookup_url_kwarg = "id"
    filter_backends = [DjangoFilterBackend]

    def object_id(self) -> uuid.UUID:
        """The id in the path, as a UUID (422 details.id when malformed)."""
        return parse_uuid(self.kwargs[self.lookup_url_kwarg])

    def get_object(self):
        found = self.get_queryset().filter(pk=self.object_id()).first()
        if found is None:
            raise NotFound()
        return found

    def page_of(self, queryset) -> list:
        """The filtered queryset's page for this request's cursor and limit."""
        return self.paginate_queryset(self.filter_queryset(queryset))


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


def metrics(request):
    """GET /metrics (API.md §8): Prometheus text format for a caller presenting
    `Authorization: Bearer $METRICS_TOKEN`. Without the setting the route does not exist (404);
    a missing or wrong token is 401. Outside /v1/: plain text, not the envelope."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404()
    scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), token.encode()
    ):
        response = HttpResponse("401 Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = render_metrics()
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
