from django.urls import path

from phone_numbers import views

urlpatterns = [
    path("phone-numbers/search", views.SearchView.as_view(), name="phone-numbers-search"),
    path("phone-numbers/orders", views.ListedOrderView.as_view(), name="phone-numbers-orders"),
]
