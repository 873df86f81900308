from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from accounts import scopes
from accounts.selectors import wallet_for
from accounts.serializers import WalletSerializer
from config.responses import ok


class WalletView(APIView):
    required_scopes = {"get": scopes.BILLING_READ}

    @extend_schema(responses=WalletSerializer, summary="The organization's credit")
    def get(self, request):
        return ok(WalletSerializer(wallet_for(request.organization)).data)
