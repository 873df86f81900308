"""/v1/openapi.json and /docs/. The schema is built and rendered once per process (generation
alone took about 30 ms a request; only a deploy changes it) and then served from memory."""

import threading

from django.conf import settings
from django.http import HttpResponse
from django.urls import get_urlconf
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView

_rendered: dict = {}
_lock = threading.Lock()


class OpenApiSchemaView(SpectacularJSONAPIView):
    @extend_schema(exclude=True)  # the schema route is not an operation of the API
    def get(self, request, *args, **kwargs):
        # Keyed by URLconf: tests mount extra routes under another one.
        urlconf = get_urlconf() or settings.ROOT_URLCONF
        with _lock:
            if urlconf not in _rendered:
                first = super().get(request, *args, **kwargs)
                first.accepted_renderer = self.perform_content_negotiation(request)[0]
                first.accepted_media_type = first.accepted_renderer.media_type
                first.renderer_context = self.get_renderer_context()
                first.render()
                _rendered[urlconf] = (first.content, first["Content-Type"], first.headers)
        content, content_type, headers = _rendered[urlconf]
        response = HttpResponse(content, content_type=content_type)
        if "Content-Disposition" in headers:
            response["Content-Disposition"] = headers["Content-Disposition"]
        return response


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script served from this view (`?script`), not inline, so
    the page runs under a CSP that allows this origin's scripts only."""
