"""Encrypts the plain signing secrets of existing endpoints (webhooks.crypto); the next
migration drops the plain column. Not reversible: a plain secret is never written back."""

from django.db import migrations


def encrypt_secrets(apps, schema_editor):
    from webhooks import crypto

    Endpoint = apps.get_model("webhooks", "WebhookEndpoint")
    for endpoint in Endpoint.objects.filter(secret_encrypted="").only("pk", "secret").iterator():
        Endpoint.objects.filter(pk=endpoint.pk).update(
            secret_encrypted=crypto.encrypt(endpoint.secret)
        )


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0002_endpoint_secret_encrypted")]

    operations = [migrations.RunPython(encrypt_secrets, migrations.RunPython.noop, elidable=False)]
