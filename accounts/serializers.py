from rest_framework import serializers

from api.serializers import NullableCharField


class WalletSerializer(serializers.Serializer):
    """GET /v1/billing/wallet (API.md §3)."""

    balance_cents = serializers.IntegerField(help_text="sum of the ledger")
    held_cents = serializers.IntegerField(help_text="reserved by backordered bulk orders")
    available_cents = serializers.IntegerField(help_text="balance minus held")


class TransactionSerializer(serializers.Serializer):
    """One ledger line of GET /v1/billing/transactions (API.md §3)."""

    id = serializers.UUIDField()
    kind = serializers.CharField(help_text="topup, charge, hold, release, refund or adjustment")
    amount_cents = serializers.IntegerField(
        help_text="effect on the balance: the balance is the sum of the ledger's amounts"
    )
    balance_after_cents = serializers.IntegerField()
    order_id = serializers.UUIDField(allow_null=True, help_text="the bulk order, if any")
    created_at = serializers.DateTimeField()
    note = NullableCharField()
