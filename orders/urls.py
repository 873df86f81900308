from django.urls import path

from orders.views import BulkOrderViewSet, ListedOrderView

urlpatterns = [
    path("phone-numbers/orders", ListedOrderView.as_view(), name="phone-numbers-orders"),
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
