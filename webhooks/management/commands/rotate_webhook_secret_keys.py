from django.core.management.base import BaseCommand
from django.db import transaction

from webhooks import crypto
from webhooks.models import WebhookEndpoint


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored webhook signing secret with the first key of "
        "WEBHOOK_SECRET_KEYS (run after putting a new key first, before removing the old one)."
    )

    def handle(self, *args, **options):
        count = 0
        for pk in WebhookEndpoint.objects.values_list("pk", flat=True).iterator():
            with transaction.atomic():
                endpoint = WebhookEndpoint.objects.select_for_update().get(pk=pk)
                endpoint.secret_encrypted = crypto.reencrypt(endpoint.secret_encrypted)
                if endpoint.previous_secret_encrypted:
                    endpoint.previous_secret_encrypted = crypto.reencrypt(
                        endpoint.previous_secret_encrypted
                    )
                endpoint.save(update_fields=["secret_encrypted", "previous_secret_encrypted"])
            count += 1
        self.stdout.write(f"re-encrypted the secrets of {count} webhook endpoints")
