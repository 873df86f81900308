from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from accounts import scopes
from accounts.permissions import has_scope
from api.errors import Forbidden, ValidationFailed
from api.idempotency import IdempotentCreateMixin
from api.request_id import current_request_id
from api.responses import ok
from api.serializers import filtered, parse_uuid, validated_body
from phone_numbers import selectors, services
from phone_numbers.allocation import Criteria, Routing
from phone_numbers.selectors import available_numbers_search
from phone_numbers.serializers import (
    BulkReleaseInput,
    ListedOrderInput,
    OwnedNumberFilter,
    PhoneNumberSerializer,
    RoutingUpdateInput,
    SearchInput,
)
from phone_numbers.services import order_listed_numbers


class SearchView(APIView):
    """POST /v1/phone-numbers/search: a preview of available numbers; reserves nothing."""

    required_scopes = {"post": scopes.NUMBERS_WRITE}

    def post(self, request):
        body = validated_body(request, SearchInput)
        rows = available_numbers_search(
            criteria=Criteria.from_data(body),
            quantity=body["quantity"],
        )
        return ok(rows)


class ListedOrderView(IdempotentCreateMixin, APIView):
    """POST /v1/phone-numbers/orders: assign these exact numbers, all or nothing. Honours
    Idempotency-Key (IdempotentCreateMixin)."""

    required_scopes = {"post": scopes.NUMBERS_WRITE}

    post = IdempotentCreateMixin.create

    def validate_input(self, request):
        return validated_body(request, ListedOrderInput)

    def create_validated(self, request, body):
        numbers = order_listed_numbers(
            organization_id=request.organization.id,
            numbers=body["numbers"],
            routing=Routing.from_data(body),
        )
        return ok(PhoneNumberSerializer(numbers, many=True).data)


def _return_to_carrier(request) -> bool:
    values = request.query_params.getlist("return_to_carrier")
    if not values:
        return False
    if len(values) > 1 or values[0] not in ("true", "false"):
        raise ValidationFailed({"return_to_carrier": "must be true or false"})
    return values[0] == "true"


class OwnedNumberViewSet(GenericViewSet):
    """The organization's numbers: GET /v1/phone-numbers (list), GET, PATCH and DELETE
    /v1/phone-numbers/{id}. Another organization's id, or one released already, is 404."""

    required_scopes = {
        "list": scopes.NUMBERS_READ,
        "retrieve": scopes.NUMBERS_READ,
        "partial_update": scopes.NUMBERS_WRITE,
        "destroy": scopes.NUMBERS_WRITE,
    }
    serializer_class = PhoneNumberSerializer
    # The resource's created_at is assigned_at (docs/inventory.md): the list pages on it.
    pagination_field = "assigned_at"

    @extend_schema(
        summary="The organization's numbers, newest first",
        parameters=[
            # An empty value means "any type" (django-filter's default), as for bulk `status`.
            OpenApiParameter("number_type", enum=["", "local", "toll_free"]),
            OpenApiParameter("area_code", description="3 digits"),
            OpenApiParameter("label", description="exact label"),
            OpenApiParameter("search", description="substring of the number or the label"),
        ],
    )
    def list(self, request):
        queryset = selectors.owned_numbers(organization=request.organization)
        page = self.paginate_queryset(filtered(OwnedNumberFilter, request, queryset))
        return self.get_paginated_response(PhoneNumberSerializer(page, many=True).data)

    def retrieve(self, request, number_id):
        number = selectors.owned_number_get(
            organization=request.organization, number_id=parse_uuid(number_id)
        )
        return ok(PhoneNumberSerializer(number).data)

    @extend_schema(request=RoutingUpdateInput, summary="Change a number's routing")
    def partial_update(self, request, number_id):
        number_id = parse_uuid(number_id)
        body = validated_body(request, RoutingUpdateInput)
        number = services.number_update_routing(
            organization_id=request.organization.id,
            number_id=number_id,
            changes=RoutingUpdateInput.changes(body),
        )
        return ok(PhoneNumberSerializer(number).data)

    @extend_schema(
        summary="Release a number (quarantine, or return to the carrier)",
        parameters=[OpenApiParameter("return_to_carrier", bool)],
        responses=inline_serializer("ReleasedNumber", {"status": serializers.CharField()}),
    )
    def destroy(self, request, number_id):
        """Release: quarantined, or returned to the carrier with ?return_to_carrier=true (which
        also needs platform:inventory:write; checked before anything is touched)."""
        number_id = parse_uuid(number_id)
        return_to_carrier = _return_to_carrier(request)
        if return_to_carrier and not has_scope(request, scopes.PLATFORM_INVENTORY_WRITE):
            raise Forbidden()
        services.number_release(
            organization_id=request.organization.id,
            number_id=number_id,
            return_to_carrier=return_to_carrier,
            api_key_id=request.auth.pk,
            request_id=current_request_id() or "",
        )
        return ok({"status": "released"})


class BulkReleaseView(APIView):
    """POST /v1/phone-numbers/bulk/release: release up to 100 numbers, each on its own.
    Idempotency-Key is not honoured (ignored): the route creates nothing, and running it again
    is harmless (what the first run released comes back in `already_released`)."""

    required_scopes = {"post": scopes.NUMBERS_WRITE}

    @extend_schema(
        request=BulkReleaseInput,
        responses=inline_serializer(
            "BulkRelease",
            {
                name: serializers.ListField(child=serializers.UUIDField())
                for name in ("released", "unknown", "already_released")
            },
        ),
        summary="Release up to 100 numbers",
    )
    def post(self, request):
        body = validated_body(request, BulkReleaseInput)
        outcome = services.numbers_release(
            organization_id=request.organization.id,
            number_ids=body["ids"],
            api_key_id=request.auth.pk,
            request_id=current_request_id() or "",
        )
        return ok(
            {
                "released": outcome.released,
                "unknown": outcome.unknown,
                "already_released": outcome.already_released,
            }
        )
