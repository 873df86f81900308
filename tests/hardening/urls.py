"""The project's URLs plus a few test-only routes standing in for routes of other issues: a write
route with a JSON body (like POST /v1/phone-numbers/search), a paginated list and a detail route.
Used by @pytest.mark.urls here and by the gunicorn processes of the rate-limit test
(tests.hardening.settings_test_routes)."""

from django.core.validators import RegexValidator
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin

from accounts import scopes
from api.errors import NotFound
from api.responses import ok
from api.serializers import (
    HttpsURLField,
    InputSerializer,
    LabelField,
    StrictCharField,
    StrictIntegerField,
    validated_body,
)
from api.views import ApiView
from config import urls as project_urls
from phone_numbers import numbering
from phone_numbers.models import PhoneNumber
from phone_numbers.serializers import DigitsField

handler404 = project_urls.handler404
handler500 = project_urls.handler500


class ProbeInput(InputSerializer):
    quantity = StrictIntegerField(
        min_value=1,
        max_value=100,
        error_messages={
            key: "must be an integer from 1 to 100"
            for key in ("invalid", "min_value", "max_value", "max_string_length", "required")
        },
    )
    # The RegexValidators put the rule in the schema (schemathesis generates from it); the
    # validate_* method below is the real check (fullmatch, ASCII digits only).
    area_code = StrictCharField(
        required=False, max_length=3, validators=[RegexValidator(r"^[2-9][0-9]{2}$")]
    )
    # The real routes' field (API.md §2.1): digits and keypad letters, ASCII only.
    pattern = DigitsField(required=False)
    label = LabelField(required=False, allow_blank=True)  # "" clears, as on real routes
    inbound_url = HttpsURLField(required=False, allow_blank=True)

    def validate_area_code(self, value):
        error = numbering.area_code_error(numbering.LOCAL, value)
        if error:
            raise serializers.ValidationError(error)
        return value


class ProbeOutput(serializers.Serializer):
    quantity = serializers.IntegerField()
    area_code = serializers.CharField(required=False)
    pattern = serializers.CharField(required=False)
    label = serializers.CharField(required=False)
    inbound_url = serializers.CharField(required=False)


class ProbeWriteView(ApiView):
    """Echoes its validated body: a write route with every kind of field."""

    required_scopes = {"post": scopes.NUMBERS_WRITE}

    @extend_schema(request=ProbeInput, responses={200: ProbeOutput})
    def post(self, request):
        return ok(validated_body(request, ProbeInput))


class NumberOut(serializers.ModelSerializer):
    class Meta:
        model = PhoneNumber
        fields = ["id", "number", "number_type", "area_code", "created_at"]


class ProbeListView(ListModelMixin, ApiView, GenericAPIView):
    """A paginated list, as every list route (api.pagination.KeysetPagination)."""

    required_scopes = {"get": scopes.NUMBERS_READ}
    serializer_class = NumberOut

    def get_queryset(self):
        return PhoneNumber.objects.filter(organization=self.request.organization)

    def get(self, request):
        return self.list(request)


class ProbeDetailView(ApiView, GenericAPIView):
    required_scopes = {"get": scopes.NUMBERS_READ}
    serializer_class = NumberOut

    def get(self, request, pk):
        number = PhoneNumber.objects.filter(organization=request.organization, pk=pk).first()
        if number is None:
            raise NotFound()
        return ok(NumberOut(number).data)


urlpatterns = [
    path("v1/test/probe", ProbeWriteView.as_view()),
    path("v1/test/numbers", ProbeListView.as_view()),
    path("v1/test/numbers/<uuid:pk>", ProbeDetailView.as_view()),
    *project_urls.urlpatterns,
]
