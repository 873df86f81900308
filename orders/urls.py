from django.urls import path

from orders.views import BulkOrderCancelView, BulkOrderQuoteView, BulkOrderViewSet, ListedOrderView

urlpatterns = [
    path("phone-numbers/orders", ListedOrderView.as_view(), name="phone-numbers-orders"),
    # Before bulk/<id>, which would take "quote" for an id.
    path("phone-numbers/bulk/quote", BulkOrderQuoteView.as_view(), name="bulk-order-quote"),
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
    path(
        "phone-numbers/bulk/<str:id>/cancel",
        BulkOrderCancelView.as_view(),
        name="bulk-order-cancel",
    ),
]
