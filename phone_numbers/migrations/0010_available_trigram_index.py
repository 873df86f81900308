"""`contains` among available numbers: a pg_trgm GIN index over those rows only, on PostgreSQL.
With 9 of 10 M numbers sold, the whole-table trigram index (migration 0004, kept for the admin's
search of every number) hands a 3-digit pattern ~90,000 candidates to discard 9 in 10 of;
this one holds only what a search or a claim may return. A number leaves it when sold, so a
claim writes one GIN entry set fewer, not more. SQLite has no trigram index; the operations do
nothing there."""

from django.db import migrations

INDEX = "phonenumber_available_trgm_idx"


def create_available_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON phone_numbers_phonenumber "
        "USING gin (number gin_trgm_ops) WHERE state = 'available'"
    )


def drop_available_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("phone_numbers", "0009_number_reverse_index")]
    operations = [
        migrations.RunPython(create_available_trigram_index, drop_available_trigram_index)
    ]
