"""A stand-in for POST /v1/phone-numbers/bulk decorated with api.schema's product-page
declaration, to test that declaration before the real view is merged (test_schema.py only)."""

from django.urls import path
from rest_framework import serializers
from rest_framework.views import APIView

from accounts import scopes
from api.responses import ok
from api.schema import bulk_order_create_schema
from api.serializers import InputSerializer, StrictIntegerField


class BulkInput(InputSerializer):
    quantity = StrictIntegerField(min_value=1, max_value=1000)


class BulkResult(serializers.Serializer):
    order_id = serializers.UUIDField(allow_null=True)
    status = serializers.CharField()
    quantity = serializers.IntegerField()
    assigned_count = serializers.IntegerField()
    pending_count = serializers.IntegerField()
    assigned_numbers = serializers.ListField(child=serializers.CharField())


class BulkView(APIView):
    required_scopes = {"post": scopes.NUMBERS_WRITE}

    @bulk_order_create_schema(request=BulkInput, response=BulkResult)
    def post(self, request):
        return ok({})


urlpatterns = [path("v1/phone-numbers/bulk", BulkView.as_view())]
