"""The inventory table is vacuumed and analyzed after 1 % and 2 % of its rows changed
(migration phone_numbers 0012: a sale leaves a dead row version in the trigram index of
available numbers, which `contains` searches read until VACUUM removes it)."""

import pytest
from django.db import connection

from phone_numbers.models import PhoneNumber
from tests.support.migrations import migrated_back_to

pytestmark = pytest.mark.postgres

EXPECTED = {
    "autovacuum_vacuum_scale_factor=0.01",
    "autovacuum_vacuum_threshold=10000",
    "autovacuum_analyze_scale_factor=0.02",
}


def table_options() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE oid = %s::regclass",
            [PhoneNumber._meta.db_table],
        )
        return set(cursor.fetchone()[0] or [])


@pytest.mark.django_db(transaction=True)
def test_the_inventory_table_is_vacuumed_after_one_percent_changed():
    assert table_options() == EXPECTED

    with migrated_back_to("phone_numbers", "0011_leaner_claim_indexes"):
        reverted = table_options()

    assert reverted == set()  # PostgreSQL's defaults again
    assert table_options() == EXPECTED
