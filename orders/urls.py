from django.urls import path

from orders.views import BulkOrderViewSet

urlpatterns = [
    path(
        "phone-numbers/bulk",
        BulkOrderViewSet.as_view({"get": "list", "post": "create"}),
        name="bulk-orders",
    ),
    path(
        "phone-numbers/bulk/<str:id>",
        BulkOrderViewSet.as_view({"get": "retrieve"}),
        name="bulk-order",
    ),
]
