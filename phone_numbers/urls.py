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
        "phone-numbers/reservations",
        views.ReservationViewSet.as_view({"post": "create"}),
        name="phone-number-reservations",
    ),
    path(
        "phone-numbers/reservations/<str:id>",
        views.ReservationViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="phone-number-reservation",
    ),
    path(
        "phone-numbers/reservations/<str:id>/extend",
        views.ReservationViewSet.as_view({"post": "extend"}),
        name="phone-number-reservation-extend",
    ),
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
