"""What the routes of the other apps take and answer, for the OpenAPI schema.

Those views parse bodies with `validated_body(request, X)` and answer plain dicts, which
drf-spectacular cannot see; each declaration below tells it, from outside the view (an
OpenApiViewExtension is applied only when its target class can be imported, so a route that is
not there simply has no declaration). Moving a declaration next to its view as @extend_schema is
equivalent. tests/hardening/test_fuzz_schema.py checks the answers against these shapes.
"""

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers

from api import errors
from api.schema import bulk_order_create_schema, error_response

NUMBER_TYPES = ["local", "toll_free"]


# --- Response shapes (documentation only: the views build these dicts in their selectors) -----
class NumberPreviewSerializer(serializers.Serializer):
    number = serializers.CharField()
    number_type = serializers.ChoiceField(choices=NUMBER_TYPES)
    area_code = serializers.CharField()


class BulkOrderPlacementSerializer(serializers.Serializer):
    order_id = serializers.UUIDField(allow_null=True)
    status = serializers.ChoiceField(choices=["complete", "processing"])
    quantity = serializers.IntegerField()
    assigned_count = serializers.IntegerField()
    pending_count = serializers.IntegerField()
    assigned_numbers = serializers.ListField(child=serializers.CharField())


class BulkOrderSerializer(serializers.Serializer):
    order_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["processing", "complete", "partial", "failed"])
    quantity = serializers.IntegerField()
    assigned_count = serializers.IntegerField()
    pending_count = serializers.IntegerField()
    failed_count = serializers.IntegerField(allow_null=True)
    assigned_numbers = serializers.ListField(child=serializers.CharField())
    label = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField(allow_blank=True, allow_null=True)
    created_at = serializers.DateTimeField()


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="The signing secret; shown only in this answer.")


class WebhookAttemptSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    succeeded = serializers.BooleanField()


class WebhookDeliverySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    event_id = serializers.CharField()
    event_type = serializers.CharField()
    endpoint_id = serializers.UUIDField()
    url = serializers.CharField()
    status = serializers.CharField()
    attempt_count = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    attempts = WebhookAttemptSerializer(many=True)


class DeletedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()


def _declare(target: str, **methods):
    """Register `extend_schema_view(**methods)` for the view class at dotted path `target`; each
    value is a function returning the extend_schema (so serializers import lazily)."""

    class Declaration(OpenApiViewExtension):
        target_class = target
        optional = True  # the route may not be merged yet

        def view_replacement(self):
            decorated = type(self.target_class.__name__, (self.target_class,), {})
            return extend_schema_view(**{name: make() for name, make in methods.items()})(decorated)

    Declaration.__name__ = f"Schema_{target.rsplit('.', 1)[-1]}"
    return Declaration


def _search():
    from phone_numbers.serializers import SearchInput

    return extend_schema(
        summary="Preview available numbers (reserves nothing)",
        request=SearchInput,
        responses={200: NumberPreviewSerializer(many=True)},
    )


def _listed_order():
    from phone_numbers.serializers import ListedOrderInput, PhoneNumberSerializer

    return extend_schema(
        summary="Assign these exact numbers, all or nothing",
        request=ListedOrderInput,
        responses={
            200: PhoneNumberSerializer(many=True),
            402: error_response(
                (errors.InsufficientCredit, {"required_cents": 200, "available_cents": 100})
            ),
            409: error_response(
                (
                    errors.InsufficientInventory,
                    {"available_count": 1, "unavailable_numbers": ["+14155550101"]},
                ),
                errors.IdempotencyKeyInUse,
            ),
        },
    )


def _bulk_create():
    from orders.serializers import BulkOrderInput

    return bulk_order_create_schema(request=BulkOrderInput, response=BulkOrderPlacementSerializer)


def _bulk_retrieve():
    return extend_schema(
        summary="A backordered bulk order",
        parameters=[OpenApiParameter("order_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={200: BulkOrderSerializer},
    )


def _bulk_list():
    return extend_schema(
        summary="Your backordered bulk orders, newest first",
        parameters=[
            # The filter treats an empty value as "any status" (django-filter's default).
            OpenApiParameter(
                "status", str, enum=["", "processing", "complete", "partial", "failed"]
            ),
            OpenApiParameter("label", str),
        ],
        responses={200: BulkOrderSerializer(many=True)},
    )


def _webhook_create():
    from webhooks.serializers import WebhookEndpointCreateInput

    return extend_schema(
        summary="Add a webhook endpoint (its secret is shown once)",
        request=WebhookEndpointCreateInput,
        responses={201: WebhookEndpointCreatedSerializer},
    )


_declare(
    "phone_numbers.views.SearchView",
    post=_search,
)
_declare("phone_numbers.views.ListedOrderView", post=_listed_order)
_declare(
    "orders.views.BulkOrderViewSet",
    create=_bulk_create,
    retrieve=_bulk_retrieve,
    list=_bulk_list,
)
_declare(
    "webhooks.views.WebhookEndpointViewSet",
    create=_webhook_create,
    list=lambda: extend_schema(responses={200: WebhookEndpointSerializer(many=True)}),
    retrieve=lambda: extend_schema(responses={200: WebhookEndpointSerializer}),
    destroy=lambda: extend_schema(
        responses={200: OpenApiResponse(DeletedSerializer, description="Deleted.")}
    ),
)
_declare(
    "webhooks.views.WebhookDeliveryViewSet",
    list=lambda: extend_schema(
        parameters=[
            OpenApiParameter(
                "status", str, enum=["pending", "delivered", "failed-retrying", "dead"]
            ),
            OpenApiParameter("endpoint_id", OpenApiTypes.UUID),
        ],
        responses={200: WebhookDeliverySerializer(many=True)},
    ),
)
