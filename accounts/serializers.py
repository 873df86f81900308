from rest_framework import serializers


class WalletSerializer(serializers.Serializer):
    balance_cents = serializers.IntegerField(help_text="sum of the ledger")
    held_cents = serializers.IntegerField(help_text="reserved by backordered bulk orders")
    available_cents = serializers.IntegerField(help_text="balance minus held")
