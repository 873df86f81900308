from rest_framework.views import APIView

from accounts import scopes
from config.responses import ok
from config.serializers import validated_body
from orders.idempotency import IdempotentCreateMixin
from phone_numbers.allocation import Criteria, Routing
from phone_numbers.selectors import available_numbers_search
from phone_numbers.serializers import ListedOrderInput, PhoneNumberSerializer, SearchInput
from phone_numbers.services import order_listed_numbers


class SearchView(APIView):
    """POST /v1/phone-numbers/search: a preview of available numbers; reserves nothing."""

    required_scopes = {"post": scopes.NUMBERS_WRITE}

    def post(self, request):
        body = validated_body(request, SearchInput)
        rows = available_numbers_search(
            criteria=Criteria(body["number_type"], body["area_code"], body["pattern"]),
            quantity=body["quantity"],
        )
        return ok(rows)


class ListedOrderView(IdempotentCreateMixin, APIView):
    """POST /v1/phone-numbers/orders: assign these exact numbers, all or nothing. Honours
    Idempotency-Key (IdempotentCreateMixin)."""

    required_scopes = {"post": scopes.NUMBERS_WRITE}

    def validate_input(self, request):
        return validated_body(request, ListedOrderInput)

    def create_validated(self, request, body):
        numbers = order_listed_numbers(
            organization_id=request.organization.id,
            numbers=body["numbers"],
            routing=Routing(body["inbound_url"], body["status_url"], body["label"]),
        )
        return ok(PhoneNumberSerializer(numbers, many=True).data)
