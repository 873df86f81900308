"""Reads of webhook endpoints and deliveries, always scoped to one organization, and the
shapes the API answers with."""

from django.db.models import Prefetch

from api.errors import NotFound, ValidationFailed
from api.responses import iso8601
from api.serializers import parse_uuid
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


def endpoints_for(organization):
    return WebhookEndpoint.objects.filter(organization=organization, deleted_at__isnull=True)


def endpoint_get(*, organization, endpoint_id: str) -> WebhookEndpoint:
    """A live endpoint of this organization; anything else (unknown, deleted, another
    organization's) is the same 404."""
    try:
        return endpoints_for(organization).get(pk=parse_uuid(endpoint_id))
    except WebhookEndpoint.DoesNotExist as exc:
        raise NotFound() from exc


def deliveries_for(organization, *, status: str | None = None, endpoint_id: str | None = None):
    deliveries = (
        WebhookDelivery.objects.filter(organization=organization)
        .select_related("event", "endpoint")
        .prefetch_related(
            Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("at", "id"))
        )
    )
    if status is not None:
        if status not in WebhookDelivery.Status.values:
            raise ValidationFailed(
                {"status": f"must be one of {', '.join(WebhookDelivery.Status.values)}"}
            )
        deliveries = deliveries.filter(status=status)
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=parse_uuid(endpoint_id, field="endpoint_id"))
    return deliveries


def endpoint_data(endpoint: WebhookEndpoint, *, secret: str | None = None) -> dict:
    data = {
        "id": str(endpoint.id),
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "created_at": iso8601(endpoint.created_at),
    }
    if secret is not None:
        data["secret"] = secret
    return data


def delivery_data(delivery: WebhookDelivery) -> dict:
    return {
        "id": str(delivery.id),
        "event_id": delivery.event_id,
        "event_type": delivery.event.type,
        "endpoint_id": str(delivery.endpoint_id),
        "url": delivery.endpoint.url,
        "status": delivery.status,
        "attempt_count": delivery.attempt_count,
        "next_attempt_at": iso8601(delivery.next_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error or None,
        "delivered_at": iso8601(delivery.delivered_at),
        "created_at": iso8601(delivery.created_at),
        "attempts": [
            {
                "at": iso8601(attempt.at),
                "status_code": attempt.status_code,
                "latency_ms": attempt.latency_ms,
                "error": attempt.error or None,
                "succeeded": attempt.succeeded,
            }
            for attempt in delivery.attempts.all()
        ],
    }
