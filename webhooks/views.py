from rest_framework.viewsets import GenericViewSet

from accounts import scopes
from api.errors import ValidationFailed
from api.idempotency import IdempotentCreateMixin
from api.responses import ok
from api.serializers import validated_body
from webhooks import selectors, services
from webhooks.serializers import WebhookEndpointCreateInput


class WebhookEndpointViewSet(IdempotentCreateMixin, GenericViewSet):
    required_scopes = {
        "list": scopes.WEBHOOKS_READ,
        "create": scopes.WEBHOOKS_WRITE,
        "retrieve": scopes.WEBHOOKS_READ,
        "destroy": scopes.WEBHOOKS_WRITE,
    }

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
        return ok(selectors.endpoint_data(endpoint, secret=secret), status=201)

    def list(self, request):
        page = self.paginate_queryset(selectors.endpoints_for(request.organization))
        return self.get_paginated_response([selectors.endpoint_data(e) for e in page])

    def retrieve(self, request, endpoint_id):
        endpoint = selectors.endpoint_get(
            organization=request.organization, endpoint_id=endpoint_id
        )
        return ok(selectors.endpoint_data(endpoint))

    def destroy(self, request, endpoint_id):
        endpoint = selectors.endpoint_get(
            organization=request.organization, endpoint_id=endpoint_id
        )
        services.webhook_endpoint_delete(endpoint=endpoint)
        return ok({"id": str(endpoint.id), "status": "deleted"})


class WebhookDeliveryViewSet(GenericViewSet):
    required_scopes = {"list": scopes.WEBHOOKS_READ}

    def list(self, request):
        deliveries = selectors.deliveries_for(
            request.organization,
            status=request.query_params.get("status"),
            endpoint_id=request.query_params.get("endpoint_id"),
        )
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response([selectors.delivery_data(d) for d in page])
