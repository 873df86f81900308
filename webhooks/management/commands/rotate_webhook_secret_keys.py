from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from api import crypto
from api.models import IdempotencyKey
from webhooks.models import WebhookEndpoint

# The routes whose stored Idempotency-Key answers hold an encrypted secret (api.crypto).
SECRET_ANSWER_PATHS = r"^/v1/(webhooks(/[^/]+/rotate-secret)?|api-keys(/[^/]+/rotate)?)$"


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of WEBHOOK_SECRET_KEYS: webhook "
        "signing secrets, and the secrets in stored Idempotency-Key answers (run after putting "
        "a new key first, before removing the old one)."
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
        answers = 0
        stored = IdempotencyKey.objects.filter(
            path__regex=SECRET_ANSWER_PATHS,
            response_body__isnull=False,
            expires_at__gt=timezone.now(),
        )
        for pk in stored.values_list("pk", flat=True).iterator():
            with transaction.atomic():
                row = IdempotencyKey.objects.select_for_update().filter(pk=pk).first()
                if row is None:  # purged meanwhile
                    continue
                content = bytes(row.response_body)
                reencrypted = crypto.reencrypt_answer_secret(content)
                if reencrypted != content:
                    IdempotencyKey.objects.filter(pk=pk).update(response_body=reencrypted)
                    answers += 1
        self.stdout.write(f"re-encrypted the secrets of {answers} stored Idempotency-Key answers")
