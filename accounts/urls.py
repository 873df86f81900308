from django.urls import path

from accounts import views

urlpatterns = [
    path("billing/wallet", views.WalletView.as_view(), name="billing-wallet"),
    path(
        "billing/transactions",
        views.TransactionViewSet.as_view({"get": "list"}),
        name="billing-transactions",
    ),
]
