"""The order routes (API.md §2): bulk orders and explicit orders. Views parse, call one
service or selector, render with the output serializer that also documents the answer."""

from drf_spectacular.utils import OpenApiParameter, extend_schema

from accounts import scopes
from api import errors
from api.errors import NotFound
from api.idempotency import IdempotentCreateMixin
from api.responses import ok
from api.schema import error_response
from api.serializers import parse_uuid, validated_body
from api.views import ApiView, ApiViewSet
from orders import selectors, services
from orders.models import BulkOrder
from orders.openapi import (
    bulk_order_cancel_schema,
    bulk_order_create_schema,
    bulk_order_quote_schema,
)
from orders.serializers import (
    BulkOrderCancelInput,
    BulkOrderFilter,
    BulkOrderInput,
    BulkOrderPlacementSerializer,
    BulkOrderQuoteSerializer,
    BulkOrderSerializer,
)
from phone_numbers.allocation import Criteria, Routing
from phone_numbers.serializers import ListedOrderInput, PhoneNumberSerializer


class BulkOrderViewSet(IdempotentCreateMixin, ApiViewSet):
    required_scopes = {
        "create": scopes.NUMBERS_WRITE,
        "list": scopes.NUMBERS_READ,
        "retrieve": scopes.NUMBERS_READ,
    }
    queryset = BulkOrder.objects.none()  # the model, for the schema
    serializer_class = BulkOrderSerializer
    filterset_class = BulkOrderFilter

    def get_queryset(self):
        return selectors.bulk_orders_backordered(organization=self.request.organization)

    @bulk_order_create_schema
    def create(self, request):
        return super().create(request)

    def validate_input(self, request):
        return validated_body(request, BulkOrderInput)

    def create_validated(self, request, body):
        """POST /v1/phone-numbers/bulk, after validation (and, with an Idempotency-Key, after
        the key is claimed: see IdempotentCreateMixin)."""
        order = services.bulk_order_place(
            organization_id=request.organization.id,
            criteria=Criteria.from_data(body),
            quantity=body["quantity"],
            routing=Routing.from_data(body),
            mode=body["mode"],
            fill_by=body["fill_by"],
            request_id=request.request_id,
        )
        data = BulkOrderPlacementSerializer(order).data
        if order.is_backorder:
            location = f"/v1/phone-numbers/bulk/{order.id}"
            return ok(data, status=202, headers={"Location": location})
        return ok(data)

    @extend_schema(summary="A bulk order", responses={200: BulkOrderSerializer})
    def retrieve(self, request, id):
        # Not get_object(): an order filled at once is not a backorder, yet its id resolves.
        order = selectors.bulk_order_get(
            organization=request.organization, order_id=self.object_id()
        )
        if order is None:
            raise NotFound()
        return ok(BulkOrderSerializer(order).data)

    @extend_schema(
        summary="Your backordered bulk orders, newest first",
        # An empty value means "any status" (django-filter's default).
        parameters=[
            OpenApiParameter(
                "status", str, enum=["", "processing", "complete", "partial", "failed"]
            )
        ],
        responses={200: BulkOrderSerializer(many=True)},
    )
    def list(self, request):
        page = self.page_of(self.get_queryset())
        selectors.with_assigned_numbers(*page)
        return self.get_paginated_response(BulkOrderSerializer(page, many=True).data)


class ListedOrderView(IdempotentCreateMixin, ApiView):
    """POST /v1/phone-numbers/orders: assign these exact numbers, all or nothing. Honours
    Idempotency-Key (IdempotentCreateMixin)."""

    required_scopes = {"post": scopes.NUMBERS_WRITE}

    @extend_schema(
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
    def post(self, request):
        return self.create(request)

    def validate_input(self, request):
        return validated_body(request, ListedOrderInput)

    def create_validated(self, request, body):
        numbers = services.listed_order_place(
            organization_id=request.organization.id,
            numbers=body["numbers"],
            routing=Routing.from_data(body),
        )
        return ok(PhoneNumberSerializer(numbers, many=True).data)


class BulkOrderQuoteView(ApiView):
    """POST /v1/phone-numbers/bulk/quote: what POST /bulk would do now with this body. Writes
    nothing, not even an idempotency record (an Idempotency-Key header is ignored)."""

    required_scopes = {"post": scopes.NUMBERS_WRITE}

    @bulk_order_quote_schema
    def post(self, request):
        body = validated_body(request, BulkOrderInput)
        quote = selectors.bulk_order_quote(
            organization=request.organization,
            criteria=Criteria.from_data(body),
            quantity=body["quantity"],
            mode=body["mode"],
        )
        return ok(BulkOrderQuoteSerializer(quote).data)


class BulkOrderCancelView(ApiView):
    """POST /v1/phone-numbers/bulk/{id}/cancel. No Idempotency-Key: a retry of a cancel that
    succeeded answers 409 with the terminal status, which is the same news."""

    required_scopes = {"post": scopes.NUMBERS_WRITE}

    @bulk_order_cancel_schema
    def post(self, request, id):
        order_id = parse_uuid(id)
        if request.stream is not None:  # a body is optional; if sent, it is an empty object
            validated_body(request, BulkOrderCancelInput)
        order = services.bulk_order_cancel(
            organization_id=request.organization.id,
            order_id=order_id,
            by=BulkOrder.EndedBy.CLIENT,
        )
        return ok(BulkOrderSerializer(selectors.with_assigned_numbers(order)).data)
