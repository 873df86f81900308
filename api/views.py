"""The envelope for what no route answers: unknown /v1/ paths and Django's 404/500 handlers."""

from django.http import JsonResponse
from rest_framework.views import APIView

from api.errors import InternalError, NotFound, error_body


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
