"""Two indexes fewer for a claim to write (issue 20). A claim changes `state`, so PostgreSQL
cannot update the row in place (HOT): every index without a false predicate on the new row gets
a new entry, and a 1000-number claim wrote 7 per row. Two of them duplicated another index:

- `organization_id`'s own index: phonenumber_owned_idx starts with organization_id and holds
  exactly the rows where it is set, so it serves the owner's lookups, the admin's filter and
  the foreign key's PROTECT check (`WHERE organization_id = $1`).
- `number`'s varchar_pattern_ops index, which Django adds beside a unique CharField for
  `LIKE 'prefix%'`: nothing queries a prefix with LIKE (the admin's area-code filter and the
  `starts_with` criterion use a range of `number`, which the unique index serves). To be rid of
  it, the uniqueness moves to Meta.constraints (phonenumber_number_unique).

On PostgreSQL the database work is two DROP INDEX and a RENAME CONSTRAINT: the unique index is
kept, not rebuilt, and the foreign key is not dropped and validated again (both would scan
10 M rows under a lock that stops orders). On SQLite the number's UNIQUE stays the column's own
(the same rule); only the organization index is dropped. Index names are the ones Django gave
them (a hash of the table and column names, so the same on every database)."""

from django.db import migrations, models

TABLE = "phone_numbers_phonenumber"
ORGANIZATION_INDEX = "phone_numbers_phonenumber_organization_id_c540712f"
NUMBER_LIKE_INDEX = "phone_numbers_phonenumber_number_5311f3bc_like"
NUMBER_UNIQUE_BEFORE = "phone_numbers_phonenumber_number_key"
NUMBER_UNIQUE = "phonenumber_number_unique"


def drop_duplicate_indexes(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {ORGANIZATION_INDEX}")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {NUMBER_LIKE_INDEX}")
        schema_editor.execute(
            f"ALTER TABLE {TABLE} RENAME CONSTRAINT {NUMBER_UNIQUE_BEFORE} TO {NUMBER_UNIQUE}"
        )


def restore_duplicate_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {TABLE} RENAME CONSTRAINT {NUMBER_UNIQUE} TO {NUMBER_UNIQUE_BEFORE}"
        )
        schema_editor.execute(
            f"CREATE INDEX {NUMBER_LIKE_INDEX} ON {TABLE} (number varchar_pattern_ops)"
        )
    schema_editor.execute(f"CREATE INDEX {ORGANIZATION_INDEX} ON {TABLE} (organization_id)")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_staff_action_reservation_release"),
        ("phone_numbers", "0010_available_trigram_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="phonenumber",
                    name="number",
                    field=models.CharField(max_length=16),
                ),
                migrations.AlterField(
                    model_name="phonenumber",
                    name="organization",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.PROTECT,
                        related_name="phone_numbers",
                        to="accounts.organization",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="phonenumber",
                    constraint=models.UniqueConstraint(
                        fields=("number",), name="phonenumber_number_unique"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_duplicate_indexes, restore_duplicate_indexes)
            ],
        )
    ]
