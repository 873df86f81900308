"""Drop the trigram index of every number (migration 0004); the trigram index of available
numbers (migration 0010) stays and serves every `contains` search of the API.

Its only reader was the admin's substring search of sold numbers too; its cost fell on every
claim. A claim changes `state`, so PostgreSQL writes the new version of each claimed row into
every index without a predicate, this GIN index among them. Measured on 1 M numbers
(docs/benchmarks.md, 2026-12-07 night): a claim of 1,000 numbers 20.4 -> 15.6 ms without it
(in-transaction drop, alternated); and its pending list, flushed into the index by whichever
insert finds it over 4 MB, stalled one claim of 100 numbers in ~200 for 50-70 ms (600 claims of
100: p50 4.8 -> 4.4 ms, max 68 -> 19 ms, no claim over 50 ms). The admin's search now reads the
unique index where the term pins its place and scans otherwise (phone_numbers.admin,
number_containing; docs/backoffice.md).

CONCURRENTLY, so a live inventory keeps selling while the index goes (or comes back, reversed):
that cannot run in a transaction, hence atomic = False. On SQLite there is no such index: the
operations do nothing there."""

from django.db import migrations

INDEX = "phonenumber_number_trgm_idx"


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON phone_numbers_phonenumber "
            "USING gin (number gin_trgm_ops)"
        )


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("phone_numbers", "0012_inventory_autovacuum")]
    operations = [migrations.RunPython(drop_trigram_index, create_trigram_index)]
