"""The bulk-order routes (API.md §2). Views parse, call one service or selector, render."""

from rest_framework import viewsets

from accounts import scopes
from api.errors import NotFound
from api.idempotency import IdempotentCreateMixin
from api.responses import ok
from api.serializers import filtered, parse_uuid, validated_body
from orders import selectors, services
from orders.serializers import BulkOrderFilter, BulkOrderInput
from phone_numbers.allocation import Criteria, Routing


class BulkOrderViewSet(IdempotentCreateMixin, viewsets.GenericViewSet):
    required_scopes = {
        "create": scopes.NUMBERS_WRITE,
        "list": scopes.NUMBERS_READ,
        "retrieve": scopes.NUMBERS_READ,
    }

    def validate_input(self, request):
        return validated_body(request, BulkOrderInput)

    def create_validated(self, request, body):
        """POST /v1/phone-numbers/bulk, after validation (and, with an Idempotency-Key, after
        the key is claimed: see IdempotentCreateMixin)."""
        placement = services.bulk_order_place(
            organization_id=request.organization.id,
            criteria=Criteria.from_data(body),
            quantity=body["quantity"],
            routing=Routing.from_data(body),
            request_id=request.request_id,
        )
        data = selectors.bulk_order_placement_data(placement.order, placement.assigned_numbers)
        if placement.is_backorder:
            location = f"/v1/phone-numbers/bulk/{placement.order.id}"
            return ok(data, status=202, headers={"Location": location})
        return ok(data)

    def retrieve(self, request, order_id):
        order = selectors.bulk_order_get(
            organization=request.organization, order_id=parse_uuid(order_id)
        )
        if order is None:
            raise NotFound()
        return ok(selectors.bulk_order_data(order))

    def list(self, request):
        queryset = selectors.bulk_orders_backordered(organization=request.organization)
        page = self.paginate_queryset(filtered(BulkOrderFilter, request, queryset))
        return self.get_paginated_response(selectors.bulk_orders_data(page))
