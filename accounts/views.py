from drf_spectacular.utils import OpenApiExample, extend_schema

from accounts import scopes
from accounts.models import CreditTransaction
from accounts.selectors import ledger_for, wallet_for
from accounts.serializers import TransactionSerializer, WalletSerializer
from api.responses import ok
from api.views import ApiView, ApiViewSet


class WalletView(ApiView):
    """GET /v1/billing/wallet: the organization's credit."""

    required_scopes = {"get": scopes.BILLING_READ}

    @extend_schema(
        summary="Your organization's credit",
        responses={200: WalletSerializer},
        examples=[
            OpenApiExample(
                "wallet",
                value={"balance_cents": 10_000, "held_cents": 2_500, "available_cents": 7_500},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        return ok(WalletSerializer(wallet_for(request.organization)).data)


class TransactionViewSet(ApiViewSet):
    """GET /v1/billing/transactions: the ledger, newest first, keyset-paginated."""

    required_scopes = {"list": scopes.BILLING_READ}
    serializer_class = TransactionSerializer
    queryset = CreditTransaction.objects.none()  # the model, for the schema

    @extend_schema(summary="The credit ledger, newest first")
    def list(self, request):
        page = self.paginate_queryset(ledger_for(request.organization))
        return self.get_paginated_response(TransactionSerializer(page, many=True).data)
