from django.urls import path

from webhooks import views

endpoints = views.WebhookEndpointViewSet.as_view({"get": "list", "post": "create"})
endpoint = views.WebhookEndpointViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)
rotate_secret = views.WebhookEndpointViewSet.as_view({"post": "rotate_secret"})
send_test = views.WebhookEndpointViewSet.as_view({"post": "send_test"})
deliveries = views.WebhookDeliveryViewSet.as_view({"get": "list"})
delivery = views.WebhookDeliveryViewSet.as_view({"get": "retrieve"})
replay = views.WebhookDeliveryViewSet.as_view({"post": "replay"})

# "webhooks/deliveries" comes before "webhooks/<id>", which would otherwise capture it.
urlpatterns = [
    path("webhooks", endpoints, name="webhook-endpoints"),
    path("webhooks/deliveries", deliveries, name="webhook-deliveries"),
    path("webhooks/deliveries/<str:id>", delivery, name="webhook-delivery"),
    path("webhooks/deliveries/<str:id>/replay", replay, name="webhook-delivery-replay"),
    path("webhooks/<str:id>", endpoint, name="webhook-endpoint"),
    path("webhooks/<str:id>/rotate-secret", rotate_secret, name="webhook-rotate-secret"),
    path("webhooks/<str:id>/test", send_test, name="webhook-test"),
]
