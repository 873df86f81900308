from django.urls import path

from phone_numbers import views

owned_numbers = views.OwnedNumberViewSet.as_view({"get": "list"})
owned_number = views.OwnedNumberViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)

# Fixed routes. config/urls.py includes these before orders.urls, so bulk/release comes before
# orders' phone-numbers/bulk/<order_id>, which would otherwise capture it.
urlpatterns = [
    path("phone-numbers", owned_numbers, name="phone-numbers"),
    path("phone-numbers/search", views.SearchView.as_view(), name="phone-numbers-search"),
    path(
        "phone-numbers/bulk/release",
        views.BulkReleaseView.as_view(),
        name="phone-numbers-bulk-release",
    ),
]

# phone-numbers/<id> captures any single segment ("bulk", "search", "orders" too), so
# config/urls.py includes it after every fixed phone-numbers route (orders.urls included).
id_urlpatterns = [
    path("phone-numbers/<str:id>", owned_number, name="phone-number"),
]
