"""Autovacuum of the inventory table after 1 % of its rows changed, not PostgreSQL's 20 %.

A claim updates each number it sells (`state` changes, so no HOT update): the row's old version
stays in every index it was in until VACUUM removes it, the partial trigram index of available
numbers (migration 0010) included. GIN indexes have no "dead" hint bits, so a `contains`
search (a bitmap scan, which visits heap pages in physical order) reads the page of every dead
version that matches the pattern before it finds live ones; and claims take numbers in index
order, so the dead versions lie together at the front. Measured on a 300,000-number table
(docs/benchmarks.md): 50,000 numbers claimed made a 3-digit `contains` search read 240 heap
pages instead of 8 (0.45 -> 2.4 ms); autovacuum with these settings ran within its next
naptime and brought it back to 10 pages (0.5 ms). With the defaults, a 10 M-number inventory
waits for 2 M changed rows before a vacuum, and 0.9 % of those match any 3 digits.

Analyze at 2 % too: the planner's count of available numbers goes stale as they sell, and with
it the choice between the trigram and the type/area code index (a stale plan read 1,480 index
pages for a search, 9-33 ms).

The cost is a vacuum of this table more often (every ~100,000 changed rows at 10 M; PostgreSQL
skips the index pass while few pages hold dead rows). On SQLite there is no autovacuum: the
operations do nothing there."""

from django.db import migrations

TABLE = "phone_numbers_phonenumber"
SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_threshold": "10000",
    "autovacuum_analyze_scale_factor": "0.02",
}


def set_autovacuum(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    options = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
    schema_editor.execute(f"ALTER TABLE {TABLE} SET ({options})")


def reset_autovacuum(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} RESET ({', '.join(SETTINGS)})")


class Migration(migrations.Migration):
    dependencies = [("phone_numbers", "0011_leaner_claim_indexes")]
    operations = [migrations.RunPython(set_autovacuum, reset_autovacuum)]
