"""Digit-pattern search (`number LIKE '%415%'`) without a sequential scan: a pg_trgm GIN index on
PostgreSQL. SQLite has no trigram index; the operations do nothing there so it still migrates.

pg_trgm is a "trusted" extension since PostgreSQL 13: the database owner may create it without
superuser rights."""

from django.db import migrations

INDEX = "phonenumber_number_trgm_idx"


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON phone_numbers_phonenumber "
        "USING gin (number gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("phone_numbers", "0003_inventory_indexes")]
    operations = [migrations.RunPython(create_trigram_index, drop_trigram_index)]
