"""The webhook routes (API.md §5). Views parse, call one service or selector, render with the
output serializer that also documents the answer."""

from drf_spectacular.utils import extend_schema

from accounts import scopes
from api.errors import ValidationFailed
from api.idempotency import IdempotentCreateMixin
from api.responses import ok
from api.serializers import validated_body
from api.views import ApiViewSet
from webhooks import selectors, services
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.serializers import (
    WebhookDeliveryFilter,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateInput,
    WebhookEndpointDeletedSerializer,
    WebhookEndpointSerializer,
)


class WebhookEndpointViewSet(IdempotentCreateMixin, ApiViewSet):
    required_scopes = {
        "list": scopes.WEBHOOKS_READ,
        "create": scopes.WEBHOOKS_WRITE,
        "retrieve": scopes.WEBHOOKS_READ,
        "destroy": scopes.WEBHOOKS_WRITE,
    }
    queryset = WebhookEndpoint.objects.none()  # the model, for the schema
    serializer_class = WebhookEndpointSerializer

    def get_queryset(self):
        return selectors.endpoints_for(self.request.organization)

    @extend_schema(
        summary="Add a webhook endpoint (its secret is shown once)",
        request=WebhookEndpointCreateInput,
        responses={201: WebhookEndpointCreatedSerializer},
    )
    def create(self, request):
        return super().create(request)

    def validate_input(self, request):
        return validated_body(request, WebhookEndpointCreateInput)

    def create_validated(self, request, body):
        """201 with the endpoint and its `secret`, which no other answer ever shows (but a
        replay of the same Idempotency-Key, which returns the stored answer)."""
        try:
            endpoint, secret = services.webhook_endpoint_create(
                organization=request.organization, **body
            )
        except services.TooManyEndpoints as exc:
            raise ValidationFailed(
                {
                    "url": "an organization can have at most "
                    f"{services.MAX_ENDPOINTS_PER_ORGANIZATION} webhook endpoints"
                }
            ) from exc
        endpoint.secret = secret
        return ok(WebhookEndpointCreatedSerializer(endpoint).data, status=201)

    @extend_schema(summary="Your webhook endpoints, newest first")
    def list(self, request):
        page = self.page_of(self.get_queryset())
        return self.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    @extend_schema(summary="A webhook endpoint", responses={200: WebhookEndpointSerializer})
    def retrieve(self, request, id):
        return ok(WebhookEndpointSerializer(self.get_object()).data)

    @extend_schema(
        summary="Delete a webhook endpoint", responses={200: WebhookEndpointDeletedSerializer}
    )
    def destroy(self, request, id):
        endpoint = self.get_object()
        services.webhook_endpoint_delete(endpoint=endpoint)
        return ok(WebhookEndpointDeletedSerializer({"id": endpoint.id, "status": "deleted"}).data)


class WebhookDeliveryViewSet(ApiViewSet):
    required_scopes = {"list": scopes.WEBHOOKS_READ}
    queryset = WebhookDelivery.objects.none()  # the model, for the schema
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter

    def get_queryset(self):
        return selectors.deliveries_for(self.request.organization)

    @extend_schema(
        summary="Deliveries of your webhook events, with their attempts, newest first",
        responses={200: WebhookDeliverySerializer(many=True)},
    )
    def list(self, request):
        page = self.page_of(self.get_queryset())
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
