"""The webhook routes (API.md §5). Views parse, call one service or selector, render with the
output serializer that also documents the answer."""

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action

from accounts import scopes
from api.errors import ApiError, RateLimited, ValidationFailed
from api.idempotency import IdempotentActionsMixin, IdempotentCreateMixin
from api.responses import ok
from api.schema import error_response
from api.serializers import validated_body
from api.views import ApiViewSet
from webhooks import selectors, services
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.ratelimit import check_replay_allowed
from webhooks.serializers import (
    WebhookDeliveryFilter,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateInput,
    WebhookEndpointDeletedSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateInput,
)


class EndpointDisabledError(ApiError):
    status_code, code, message = 409, "ENDPOINT_DISABLED", "the webhook endpoint is disabled"


class WebhookEndpointViewSet(IdempotentCreateMixin, ApiViewSet):
    required_scopes = {
        "list": scopes.WEBHOOKS_READ,
        "create": scopes.WEBHOOKS_WRITE,
        "retrieve": scopes.WEBHOOKS_READ,
        "partial_update": scopes.WEBHOOKS_WRITE,
        "destroy": scopes.WEBHOOKS_WRITE,
        "rotate_secret": scopes.WEBHOOKS_WRITE,
        "send_test": scopes.WEBHOOKS_WRITE,
    }
    queryset = WebhookEndpoint.objects.none()  # the model, for the schema
    serializer_class = WebhookEndpointSerializer
    # A retried rotation gets the same new secret (a second one would end the grace of the
    # secret the receiver still checks); a retried test sends one event, not two.
    idempotent_actions = frozenset({"create", "rotate_secret", "send_test"})
    answer_holds_secret = True

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
        summary="Change a webhook endpoint (url, events, description, enabled)",
        request=WebhookEndpointUpdateInput,
        responses={200: WebhookEndpointSerializer},
    )
    def partial_update(self, request, id):
        endpoint = self.get_object()
        body = validated_body(request, WebhookEndpointUpdateInput)
        endpoint, _ = services.webhook_endpoint_update(endpoint=endpoint, **body)
        return ok(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        summary="Delete a webhook endpoint", responses={200: WebhookEndpointDeletedSerializer}
    )
    def destroy(self, request, id):
        endpoint = self.get_object()
        services.webhook_endpoint_delete(endpoint=endpoint)
        return ok(WebhookEndpointDeletedSerializer({"id": endpoint.id, "status": "deleted"}).data)

    # @action only names these for the schema (webhooks/urls.py routes them explicitly).
    @extend_schema(
        summary="Issue a new signing secret (shown once; the old one signs for 24 hours more)",
        request=None,
        responses={201: WebhookEndpointCreatedSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, id):
        """201 with the endpoint, its new `secret` (shown in this answer only) and
        `previous_secret_expires_at`."""
        endpoint = self.get_object()
        return self.idempotently(request, lambda: self._rotated(endpoint))

    def _rotated(self, endpoint):
        endpoint, secret = services.webhook_endpoint_rotate_secret(endpoint=endpoint)
        endpoint.secret = secret
        return ok(WebhookEndpointCreatedSerializer(endpoint).data, status=201)

    @extend_schema(
        summary="Send a webhook.test event to this endpoint now",
        request=None,
        responses={202: WebhookDeliverySerializer, 409: error_response(EndpointDisabledError)},
    )
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request, id):
        """202 with the `webhook.test` delivery, sent now."""
        endpoint = self.get_object()
        return self.idempotently(request, lambda: self._test_sent(request, endpoint))

    def _test_sent(self, request, endpoint):
        try:
            delivery = services.webhook_endpoint_send_test(endpoint=endpoint)
        except services.EndpointDisabled as exc:
            raise EndpointDisabledError() from exc
        delivery = selectors.deliveries_for(request.organization).get(pk=delivery.pk)
        return ok(WebhookDeliverySerializer(delivery).data, status=202)


class WebhookDeliveryViewSet(IdempotentActionsMixin, ApiViewSet):
    required_scopes = {
        "list": scopes.WEBHOOKS_READ,
        "retrieve": scopes.WEBHOOKS_READ,
        "replay": scopes.WEBHOOKS_WRITE,
    }
    queryset = WebhookDelivery.objects.none()  # the model, for the schema
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter
    idempotent_actions = frozenset({"replay"})

    def get_queryset(self):
        return selectors.deliveries_for(self.request.organization)

    @extend_schema(
        summary="Deliveries of your webhook events, with their attempts, newest first",
        responses={200: WebhookDeliverySerializer(many=True)},
    )
    def list(self, request):
        page = self.page_of(self.get_queryset())
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(
        summary="A delivery with its attempts", responses={200: WebhookDeliverySerializer}
    )
    def retrieve(self, request, id):
        return ok(WebhookDeliverySerializer(self.get_object()).data)

    @extend_schema(
        summary="Send the delivery's event again, as a new delivery (10 a minute)",
        request=None,
        responses={
            202: WebhookDeliverySerializer,
            409: error_response(EndpointDisabledError),
            429: error_response(RateLimited),
        },
    )
    @action(detail=True, methods=["post"])
    def replay(self, request, id):
        """202 with the new delivery of the same event to the same endpoint. The rate limit
        counts replays sent: a retry of a replay that was answered gets that answer back and
        sends nothing, so it is not counted. A 429 is never the stored answer: a retry after
        it runs the replay."""
        delivery = self.get_object()
        return self.idempotently(
            request,
            lambda: self._replayed(request, delivery),
            admit=lambda: check_replay_allowed(request.organization.pk),
        )

    def _replayed(self, request, delivery):
        try:
            replay = services.delivery_replay(delivery=delivery)
        except services.EndpointDisabled as exc:
            raise EndpointDisabledError() from exc
        replay = selectors.deliveries_for(request.organization).get(pk=replay.pk)
        return ok(WebhookDeliverySerializer(replay).data, status=202)
