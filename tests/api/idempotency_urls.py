"""A small creating route for the Idempotency-Key tests: it records an order and charges (or
holds) credit through the real services, like the order routes do."""

from django.db import transaction
from django.urls import path

from accounts import scopes
from accounts.services import credit_charge, credit_hold, lock_organization
from api.idempotency import IdempotentCreateMixin
from api.responses import ok
from api.serializers import (
    InputSerializer,
    StrictBooleanField,
    StrictIntegerField,
    validated_body,
)
from api.views import ApiView
from orders.models import BulkOrder


class OrderInput(InputSerializer):
    quantity = StrictIntegerField(min_value=1, max_value=1000)
    backorder = StrictBooleanField(required=False, default=False)
    explode = StrictBooleanField(required=False, default=False)


class TestOrderView(IdempotentCreateMixin, ApiView):
    required_scopes = {"post": scopes.NUMBERS_WRITE}

    post = IdempotentCreateMixin.create

    def validate_input(self, request):
        return validated_body(request, OrderInput)

    @transaction.atomic
    def create_validated(self, request, data):
        organization = lock_organization(request.organization.id)
        cost = data["quantity"] * 100
        order = BulkOrder.objects.create(
            organization=organization,
            quantity=data["quantity"],
            number_type="local",
            unit_price_cents=100,
            is_backorder=data["backorder"],
            status="processing" if data["backorder"] else "complete",
            assigned_count=0 if data["backorder"] else data["quantity"],
        )
        if data["backorder"]:
            credit_hold(organization=organization, cents=cost, order_id=order.id)
        else:
            credit_charge(organization=organization, cents=cost, order_id=order.id)
        if data["explode"]:
            raise RuntimeError("simulated crash after the writes, before commit")
        if data["backorder"]:
            return ok(
                {"order_id": str(order.id), "status": "processing"},
                status=202,
                headers={"Location": f"/v1/test-orders/{order.id}"},
            )
        return ok({"order_id": None, "status": "complete", "quantity": data["quantity"]})


urlpatterns = [
    path("v1/test-orders", TestOrderView.as_view()),
    path("v1/other-test-orders", TestOrderView.as_view()),
]
