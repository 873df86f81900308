"""`ends_with` without a sequential scan: a btree on reverse(number) among available numbers, on
PostgreSQL. A number ends with the digits D exactly when reverse(number) starts with reverse(D),
which is a range of this index (allocation.criteria_sql). SQLite has no such function of its
own (Django registers one per connection), so the index is PostgreSQL only; the operations do
nothing there."""

from django.db import migrations

INDEX = "phonenumber_available_rev_idx"


def create_reverse_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON phone_numbers_phonenumber "
        "(reverse(number)) WHERE state = 'available'"
    )


def drop_reverse_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("phone_numbers", "0008_voice_and_reservations")]
    operations = [migrations.RunPython(create_reverse_index, drop_reverse_index)]
