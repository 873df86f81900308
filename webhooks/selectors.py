"""Reads of webhook endpoints and deliveries, always scoped to one organization. Their
shapes are the output serializers of webhooks.serializers."""

from django.db.models import Prefetch

from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


def endpoints_for(organization):
    return WebhookEndpoint.objects.filter(organization=organization, deleted_at__isnull=True)


def deliveries_for(organization):
    """The organization's deliveries with their event, endpoint and attempts (oldest first)."""
    return (
        WebhookDelivery.objects.filter(organization=organization)
        .select_related("event", "endpoint")
        .prefetch_related(
            Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("at", "id"))
        )
    )
