"""/v1/openapi.json and /docs/. The schema is built once per process (about 30 ms of work
that only a deploy changes) and then served from memory."""

import threading

from django.conf import settings
from django.urls import get_urlconf
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView
from rest_framework.response import Response

_built: dict = {}
_lock = threading.Lock()


class OpenApiSchemaView(SpectacularJSONAPIView):
    def _get_schema_response(self, request):
        # Keyed by URLconf: tests mount extra routes under another one.
        urlconf = get_urlconf() or settings.ROOT_URLCONF
        with _lock:
            if urlconf not in _built:
                first = super()._get_schema_response(request)
                _built[urlconf] = (first.data, dict(first.items()))
        data, headers = _built[urlconf]
        return Response(data=data, headers=headers)


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script served from this view (`?script`), not inline, so
    the page runs under a CSP that allows this origin's scripts only."""
