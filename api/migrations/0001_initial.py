"""IdempotencyKey moves here from orders (the plumbing sits below every domain app). The rows
are copied, so keys claimed before the upgrade still replay; orders.0004 drops the old table."""

import django.utils.timezone
from django.db import migrations, models


def copy_keys(apps, schema_editor):
    Old = apps.get_model("orders", "IdempotencyKey")
    New = apps.get_model("api", "IdempotencyKey")
    fields = [
        "id", "key", "fingerprint", "method", "path", "state", "response_status",
        "response_body", "response_headers", "request_id", "created_at", "expires_at",
    ]  # fmt: skip
    rows = Old.objects.values("organization_id", *fields).iterator(chunk_size=1000)
    batch = []
    for row in rows:
        batch.append(New(**row))
        if len(batch) == 1000:
            New.objects.bulk_create(batch)
            batch = []
    New.objects.bulk_create(batch)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("orders", "0003_staff_permissions"),
    ]

    operations = [
        migrations.CreateModel(
            name="IdempotencyKey",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("organization_id", models.UUIDField()),
                ("key", models.CharField(max_length=255)),
                ("fingerprint", models.CharField(max_length=64)),
                ("method", models.CharField(max_length=10)),
                ("path", models.CharField(max_length=200)),
                (
                    "state",
                    models.CharField(
                        choices=[("in_progress", "In Progress"), ("completed", "Completed")],
                        default="in_progress",
                        max_length=12,
                    ),
                ),
                ("response_status", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("response_body", models.BinaryField(blank=True, null=True)),
                ("response_headers", models.JSONField(blank=True, default=dict)),
                ("request_id", models.CharField(blank=True, max_length=26)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("expires_at", models.DateTimeField(db_index=True)),
            ],
            options={
                "verbose_name": "idempotency key",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization_id", "key"),
                        name="api_idempotency_key_unique_per_org",
                    )
                ],
            },
        ),
        migrations.RunPython(copy_keys, migrations.RunPython.noop),
    ]
