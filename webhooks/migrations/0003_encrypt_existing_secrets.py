"""Encrypts the plain signing secrets of existing endpoints (api.crypto), and the
secrets in the stored answers of POST /v1/webhooks in the idempotency store; the next
migration drops the plain column. Not reversible: a plain secret is never written back."""

from django.db import migrations


def encrypt_secrets(apps, schema_editor):
    from api import crypto

    Endpoint = apps.get_model("webhooks", "WebhookEndpoint")
    for endpoint in Endpoint.objects.filter(secret_encrypted="").only("pk", "secret").iterator():
        Endpoint.objects.filter(pk=endpoint.pk).update(
            secret_encrypted=crypto.encrypt(endpoint.secret)
        )
    IdempotencyKey = apps.get_model("api", "IdempotencyKey")
    stored = IdempotencyKey.objects.filter(path="/v1/webhooks", response_body__isnull=False)
    for row in stored.only("pk", "response_body").iterator():
        content = bytes(row.response_body)
        encrypted = crypto.encrypt_answer_secret(content)
        if encrypted != content:
            IdempotencyKey.objects.filter(pk=row.pk).update(response_body=encrypted)


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial"), ("webhooks", "0002_endpoint_secret_encrypted")]

    operations = [migrations.RunPython(encrypt_secrets, migrations.RunPython.noop, elidable=False)]
