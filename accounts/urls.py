from django.urls import path

from accounts import api_key_views, views

api_keys = api_key_views.ApiKeyViewSet.as_view({"get": "list", "post": "create"})
api_key = api_key_views.ApiKeyViewSet.as_view({"delete": "destroy"})
api_key_rotate = api_key_views.ApiKeyViewSet.as_view({"post": "rotate"})

urlpatterns = [
    path("billing/wallet", views.WalletView.as_view(), name="billing-wallet"),
    path(
        "billing/transactions",
        views.TransactionViewSet.as_view({"get": "list"}),
        name="billing-transactions",
    ),
    path("api-keys", api_keys, name="api-keys"),
    path("api-keys/<str:id>", api_key, name="api-key"),
    path("api-keys/<str:id>/rotate", api_key_rotate, name="api-key-rotate"),
]
