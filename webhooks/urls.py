from django.urls import path

from webhooks import views

endpoints = views.WebhookEndpointViewSet.as_view({"get": "list", "post": "create"})
endpoint = views.WebhookEndpointViewSet.as_view({"get": "retrieve", "delete": "destroy"})
deliveries = views.WebhookDeliveryViewSet.as_view({"get": "list"})

# "webhooks/deliveries" comes before "webhooks/<id>", which would otherwise capture it.
urlpatterns = [
    path("webhooks", endpoints, name="webhook-endpoints"),
    path("webhooks/deliveries", deliveries, name="webhook-deliveries"),
    path("webhooks/<str:id>", endpoint, name="webhook-endpoint"),
]
