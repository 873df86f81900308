"""No signing secret in plain text anywhere in the database, after creating (with an
Idempotency-Key, replayed) and rotating endpoints; keys rotate; old rows get encrypted."""

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management import call_command
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from api import crypto
from api.models import IdempotencyKey
from webhooks.models import WebhookEndpoint

EVENT = "phone_number.bulk_order.completed"
TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField, models.BinaryField)


def every_text_value():
    """(table, column, value as text) for every text-like column of every table."""
    for model in apps.get_models(include_auto_created=True):
        columns = [f for f in model._meta.concrete_fields if isinstance(f, TEXT_FIELDS)]
        for field in columns:
            for value in model._base_manager.values_list(field.attname, flat=True):
                if value is None:
                    continue
                text = (
                    bytes(value).decode("latin-1")
                    if isinstance(value, bytes | memoryview)
                    else str(value)
                )
                yield model._meta.db_table, field.column, text


def test_no_secret_is_stored_in_plain_text_anywhere(alice, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    body = {"url": "https://hooks.example.com/in", "events": [EVENT]}
    first = alice.post("/v1/webhooks", body, HTTP_IDEMPOTENCY_KEY="create-1")
    replayed = alice.post("/v1/webhooks", body, HTTP_IDEMPOTENCY_KEY="create-1")
    endpoint_id = first.json()["data"]["id"]
    rotated = [
        alice.post(f"/v1/webhooks/{endpoint_id}/rotate-secret").json()["data"]["secret"]
        for _ in range(2)
    ]
    other = alice.post("/v1/webhooks", body).json()["data"]["secret"]
    secrets = [first.json()["data"]["secret"], *rotated, other]

    assert replayed.content == first.content  # the replay re-fills the secret, byte for byte
    assert replayed["Idempotent-Replayed"] == "true"
    found = [
        (table, column)
        for table, column, text in every_text_value()
        for secret in secrets
        if secret in text or secret.removeprefix("whsec_") in text
    ]
    assert found == []
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    assert crypto.decrypt(endpoint.secret_encrypted) == rotated[1]
    assert crypto.decrypt(endpoint.previous_secret_encrypted) == rotated[0]


def test_secret_keys_rotate_without_losing_a_secret(alice, settings):
    """Stored Idempotency-Key answers that show a secret are re-encrypted too: their replays
    still work once the old key is gone."""
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.WEBHOOK_SECRET_KEYS = [old_key]
    body = {"url": "https://hooks.example.com/", "events": [EVENT]}
    response = alice.post("/v1/webhooks", body, HTTP_IDEMPOTENCY_KEY="create")
    secret = response.json()["data"]["secret"]
    key_body = {"scopes": ["numbers:read"]}
    api_key = alice.post("/v1/api-keys", key_body, HTTP_IDEMPOTENCY_KEY="key")

    settings.WEBHOOK_SECRET_KEYS = [new_key, old_key]
    call_command("rotate_webhook_secret_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.WEBHOOK_SECRET_KEYS = [new_key]

    endpoint = WebhookEndpoint.objects.get()
    assert crypto.decrypt(endpoint.secret_encrypted) == secret
    replayed = alice.post("/v1/webhooks", body, HTTP_IDEMPOTENCY_KEY="create")
    assert replayed.content == response.content
    assert alice.post("/v1/api-keys", key_body, HTTP_IDEMPOTENCY_KEY="key").content == (
        api_key.content
    )


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_plain_secrets():
    executor = MigrationExecutor(connection)
    before = [("webhooks", "0002_endpoint_secret_encrypted"), ("api", "0001_initial")]
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    Organization = old_apps.get_model("accounts", "Organization")
    Endpoint = old_apps.get_model("webhooks", "WebhookEndpoint")
    org = Organization.objects.create(name="Before")
    Endpoint.objects.create(
        organization=org, url="https://hooks.example.com/", events=[EVENT], secret="whsec_plain"
    )
    answer = b'{"success":true,"data":{"id":"x","secret":"whsec_plain"}}'
    old_apps.get_model("api", "IdempotencyKey").objects.create(
        organization_id=org.id,
        key="k",
        fingerprint="f",
        method="POST",
        path="/v1/webhooks",
        state="completed",
        response_status=201,
        response_body=answer,
        expires_at=timezone.now() + timedelta(hours=1),
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret_encrypted.startswith("fernet:")
    assert crypto.decrypt(endpoint.secret_encrypted) == "whsec_plain"
    assert "whsec_plain" not in str(list(WebhookEndpoint.objects.values()))
    stored = bytes(IdempotencyKey.objects.get(key="k").response_body)
    assert b"whsec_plain" not in stored
    assert crypto.decrypt_answer_secret(stored) == answer  # the replay is the first answer
