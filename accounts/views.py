from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from accounts import scopes
from accounts.selectors import ledger_for, wallet_for
from accounts.serializers import TransactionSerializer, WalletSerializer
from api.responses import ok


class WalletView(APIView):
    required_scopes = {"get": scopes.BILLING_READ}

    @extend_schema(responses=WalletSerializer, summary="The organization's credit")
    def get(self, request):
        return ok(WalletSerializer(wallet_for(request.organization)).data)


class TransactionViewSet(GenericViewSet):
    """GET /v1/billing/transactions: the ledger, newest first, keyset-paginated."""

    required_scopes = {"list": scopes.BILLING_READ}
    serializer_class = TransactionSerializer

    @extend_schema(summary="The credit ledger, newest first")
    def list(self, request):
        page = self.paginate_queryset(ledger_for(request.organization))
        return self.get_paginated_response(TransactionSerializer(page, many=True).data)
