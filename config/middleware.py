"""ADMIN_HOST: the back office on a host name of its own (docs/backoffice.md)."""

from django.conf import settings
from django.http import Http404
from django.http.request import split_domain_port

ADMIN_PREFIX = "/admin/"
# Served on the admin host besides /admin/: the admin's own CSS and scripts, health checks.
ADMIN_HOST_ALSO_SERVES = ("/static/", "/healthz", "/readyz")


class AdminHostMiddleware:
    """With ADMIN_HOST set, /admin/ answers 404 on every other host, and the admin host answers
    404 for everything but the admin (the API, its docs and /metrics stay on the API's hosts),
    so a cookie of the back office is never sent to the API's host name and the other way round.
    Without it, does nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        admin_host = settings.ADMIN_HOST
        if admin_host:
            host, _port = split_domain_port(request.get_host())
            on_admin_host = host == admin_host
            is_admin = request.path_info.startswith(ADMIN_PREFIX) or request.path_info == "/admin"
            if is_admin and not on_admin_host:
                raise Http404("the back office is not served on this host")
            if (
                on_admin_host
                and not is_admin
                and not request.path_info.startswith(ADMIN_HOST_ALSO_SERVES)
            ):
                raise Http404("only the back office is served on this host")
        return self.get_response(request)
