"""The phone-number routes (API.md §2): search, owned numbers, release.
Views parse, call one service or selector, render with the output serializer that also
documents the answer."""

from drf_spectacular.utils import OpenApiParameter, extend_schema

from accounts import scopes
from accounts.permissions import has_scope
from api import errors
from api.idempotency import IdempotentCreateMixin
from api.request_id import current_request_id
from api.responses import ok
from api.schema import error_response
from api.serializers import validated_body
from api.views import ApiView, ApiViewSet
from phone_numbers import selectors
from phone_numbers.allocation import Criteria
from phone_numbers.models import PhoneNumber, Reservation
from phone_numbers.serializers import (
    BulkReleaseInput,
    BulkReleaseResultSerializer,
    NumberPreviewSerializer,
    NumberReleasedSerializer,
    OwnedNumberFilter,
    PhoneNumberSerializer,
    ReservationCreateInput,
    ReservationExtendInput,
    ReservationSerializer,
    RoutingUpdateInput,
    SearchInput,
)
from phone_numbers.services import owned, release, reservations


class SearchView(ApiView):
    """POST /v1/phone-numbers/search: a preview of available numbers; reserves nothing."""

    required_scopes = {"post": scopes.NUMBERS_WRITE}

    @extend_schema(
        summary="Preview available numbers (reserves nothing)",
        request=SearchInput,
        responses={200: NumberPreviewSerializer(many=True)},
    )
    def post(self, request):
        body = validated_body(request, SearchInput)
        rows = selectors.available_numbers_search(
            criteria=Criteria.from_data(body),
            quantity=body["quantity"],
            organization_id=request.organization.id,
        )
        return ok(NumberPreviewSerializer(rows, many=True).data)


class ReservationViewSet(IdempotentCreateMixin, ApiViewSet):
    """Reservations (API.md §2.2): POST /v1/phone-numbers/reservations (Idempotency-Key
    honoured), GET and DELETE /v1/phone-numbers/reservations/{id}, POST .../{id}/extend.
    Another organization's id is 404 (outside get_queryset)."""

    required_scopes = {
        "create": scopes.NUMBERS_WRITE,
        "retrieve": scopes.NUMBERS_READ,
        "extend": scopes.NUMBERS_WRITE,
        "destroy": scopes.NUMBERS_WRITE,
    }
    queryset = Reservation.objects.none()  # the model, for the schema
    serializer_class = ReservationSerializer

    def get_queryset(self):
        return Reservation.objects.filter(organization=self.request.organization).prefetch_related(
            "numbers"
        )

    def _answer(self, reservation_id, status=200):
        reservation = self.get_queryset().get(pk=reservation_id)
        return ok(ReservationSerializer(reservation).data, status=status)

    @extend_schema(
        summary="Hold specific numbers for a while (partial success)",
        request=ReservationCreateInput,
        responses={
            201: ReservationSerializer,
            409: error_response(
                (
                    errors.InsufficientInventory,
                    {"available_count": 0, "unavailable_numbers": ["+14155550101"]},
                ),
                errors.IdempotencyKeyInUse,
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def validate_input(self, request):
        return validated_body(request, ReservationCreateInput)

    def create_validated(self, request, body):
        reservation = reservations.reservation_create(
            organization_id=request.organization.id,
            numbers=body["numbers"],
            ttl_seconds=body["ttl_seconds"],
        )
        return self._answer(reservation.pk, status=201)

    @extend_schema(summary="A reservation", responses={200: ReservationSerializer})
    def retrieve(self, request, id):
        return ok(ReservationSerializer(self.get_object()).data)

    @extend_schema(
        summary="Move a reservation's expiry (at most 4 hours after creation)",
        request=ReservationExtendInput,
        responses={
            200: ReservationSerializer,
            409: error_response((errors.ReservationNotActive, {"status": "expired"})),
        },
    )
    def extend(self, request, id):
        # Another organization's id is 404 whatever the body (ids cannot be probed).
        reservation = self.get_object()
        body = validated_body(request, ReservationExtendInput)
        reservations.reservation_extend(
            organization_id=request.organization.id,
            reservation_id=reservation.pk,
            ttl_seconds=body["ttl_seconds"],
        )
        return self._answer(reservation.pk)

    @extend_schema(summary="Release a reservation now", responses={200: ReservationSerializer})
    def destroy(self, request, id):
        reservation = self.get_object()
        reservations.reservation_release(
            organization_id=request.organization.id, reservation_id=reservation.pk
        )
        return self._answer(reservation.pk)


def _return_to_carrier(request) -> bool:
    values = request.query_params.getlist("return_to_carrier")
    if not values:
        return False
    if len(values) > 1 or values[0] not in ("true", "false"):
        raise errors.ValidationFailed({"return_to_carrier": "must be true or false"})
    return values[0] == "true"


class OwnedNumberViewSet(ApiViewSet):
    """The organization's numbers: GET /v1/phone-numbers (list), GET, PATCH and DELETE
    /v1/phone-numbers/{id}. Another organization's id, or one released already, is 404."""

    required_scopes = {
        "list": scopes.NUMBERS_READ,
        "retrieve": scopes.NUMBERS_READ,
        "partial_update": scopes.NUMBERS_WRITE,
        "destroy": scopes.NUMBERS_WRITE,
    }
    queryset = PhoneNumber.objects.none()  # the model, for the schema
    serializer_class = PhoneNumberSerializer
    filterset_class = OwnedNumberFilter
    # The resource's created_at is assigned_at (docs/inventory.md): the list pages on it.
    pagination_field = "assigned_at"

    def get_queryset(self):
        return selectors.owned_numbers(organization=self.request.organization)

    @extend_schema(
        summary="The organization's numbers, newest first",
        # An empty value means "any type" (django-filter's default), as for bulk `status`.
        parameters=[OpenApiParameter("number_type", enum=["", "local", "toll_free"])],
    )
    def list(self, request):
        # Rows of the rendered columns, not model instances: a model instance per number was
        # a quarter of a page's CPU (docs/benchmarks.md).
        rows = self.get_queryset().values_list(*PhoneNumberSerializer.columns(), named=True)
        page = self.page_of(rows)
        return self.get_paginated_response(PhoneNumberSerializer(page, many=True).data)

    @extend_schema(summary="One of the organization's numbers")
    def retrieve(self, request, id):
        return ok(PhoneNumberSerializer(self.get_object()).data)

    @extend_schema(summary="Change a number's routing", request=RoutingUpdateInput)
    def partial_update(self, request, id):
        number_id = self.object_id()
        body = validated_body(request, RoutingUpdateInput)
        number = owned.number_update_routing(
            organization_id=request.organization.id,
            number_id=number_id,
            changes=RoutingUpdateInput.changes(body),
        )
        return ok(PhoneNumberSerializer(number).data)

    @extend_schema(
        summary="Release a number (quarantine, or return to the carrier)",
        parameters=[OpenApiParameter("return_to_carrier", bool)],
        responses={200: NumberReleasedSerializer},
    )
    def destroy(self, request, id):
        """Release: quarantined, or returned to the carrier with ?return_to_carrier=true (which
        also needs platform:inventory:write; checked before anything is touched)."""
        number_id = self.object_id()
        return_to_carrier = _return_to_carrier(request)
        if return_to_carrier and not has_scope(request, scopes.PLATFORM_INVENTORY_WRITE):
            raise errors.Forbidden()
        release.number_release(
            organization_id=request.organization.id,
            number_id=number_id,
            return_to_carrier=return_to_carrier,
            api_key_id=request.auth.pk,
            request_id=current_request_id() or "",
        )
        return ok(NumberReleasedSerializer({"status": "released"}).data)


class BulkReleaseView(ApiView):
    """POST /v1/phone-numbers/bulk/release: release up to 100 numbers, each on its own.
    Idempotency-Key is not honoured (ignored): the route creates nothing, and running it again
    is harmless (what the first run released comes back in `already_released`)."""

    required_scopes = {"post": scopes.NUMBERS_WRITE}

    @extend_schema(
        summary="Release up to 100 numbers",
        request=BulkReleaseInput,
        responses={200: BulkReleaseResultSerializer},
    )
    def post(self, request):
        body = validated_body(request, BulkReleaseInput)
        outcome = release.numbers_release(
            organization_id=request.organization.id,
            number_ids=body["ids"],
            api_key_id=request.auth.pk,
            request_id=current_request_id() or "",
        )
        return ok(BulkReleaseResultSerializer(outcome).data)
