from rest_framework.views import APIView

from accounts import scopes
from accounts.selectors import wallet_for
from config.responses import ok


class WalletView(APIView):
    required_scopes = {"get": scopes.BILLING_READ}

    def get(self, request):
        return ok(wallet_for(request.organization))
