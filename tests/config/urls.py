"""Test-only routes (used with @pytest.mark.urls("tests.config.urls")): a body-echo route to
exercise parsing, and routes that fail the ways production code can fail."""

import structlog
from django.db import OperationalError, transaction
from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import scopes
from api.responses import ok
from api.serializers import InputSerializer, StrictIntegerField, validated_body
from api.views import ApiView, ApiViewSet
from config.urls import urlpatterns as real_urlpatterns

handler404 = "api.views.handler404"
handler500 = "api.views.handler500"

INTERNAL_DETAIL = "password=hunter2 at /srv/app/secret.py"


class EchoInput(InputSerializer):
    quantity = StrictIntegerField(
        min_value=1,
        max_value=1000,
        error_messages={"invalid": "must be an integer from 1 to 1000"},
    )


class EchoView(ApiView):
    required_scopes = {"post": scopes.NUMBERS_WRITE}

    def post(self, request):
        return ok(dict(validated_body(request, EchoInput)), status=201)


class BoomView(ApiView):
    required_scopes = {"get": scopes.BILLING_READ}

    def get(self, request):
        raise RuntimeError(INTERNAL_DETAIL)


class DatabaseDownView(ApiView):
    required_scopes = {"get": scopes.BILLING_READ}

    def get(self, request):
        raise OperationalError(f"connection to server failed: {INTERNAL_DETAIL}")


class EnqueueView(ApiView):
    """Enqueues a task after its transaction commits, the way services do."""

    required_scopes = {"post": scopes.NUMBERS_WRITE}

    def post(self, request):
        from tests.config.tasks import record_request_id

        structlog.get_logger("tests.view").info("enqueueing")
        with transaction.atomic():
            transaction.on_commit(record_request_id.delay)
        structlog.get_logger("tests.view").info("enqueued")
        return ok({}, status=202)


def plain_django_boom(request):
    """A failure outside DRF (Django's handler500 path)."""
    raise RuntimeError(INTERNAL_DETAIL)


class NoScopeView(ApiView):
    def get(self, request):
        return ok({})


class ThingViewSet(ApiViewSet):
    """A router-made route, as most /v1/ routes are: list and retrieve only."""

    required_scopes = {"list": scopes.NUMBERS_READ, "retrieve": scopes.NUMBERS_READ}

    def list(self, request):
        return ok([])

    def retrieve(self, request, id=None):
        return ok({"id": id})


router = SimpleRouter(trailing_slash=False)
router.register("v1/test/things", ThingViewSet, basename="thing")

urlpatterns = [
    *router.urls,
    path("v1/test/echo", EchoView.as_view()),
    path("v1/test/boom", BoomView.as_view()),
    path("v1/test/database-down", DatabaseDownView.as_view()),
    path("v1/test/enqueue", EnqueueView.as_view()),
    path("v1/test/plain-boom", plain_django_boom),
    path("v1/test/no-scope", NoScopeView.as_view()),
    *real_urlpatterns,
]
