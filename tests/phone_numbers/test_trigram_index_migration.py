"""Migration phone_numbers 0013 drops the trigram index of every number (claims wrote it for
every number they sold, and its pending list stalled them) and brings it back when reversed."""

import pytest
from django.db import connection

from phone_numbers.models import PhoneNumber
from tests.support.migrations import migrated_back_to

pytestmark = pytest.mark.postgres

INDEX = "phonenumber_number_trgm_idx"


def indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass",
            [PhoneNumber._meta.db_table],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_the_trigram_index_of_every_number_is_dropped_and_comes_back_when_reversed():
    assert INDEX not in indexes()
    assert "phonenumber_available_trgm_idx" in indexes()  # contains searches keep theirs

    with migrated_back_to("phone_numbers", "0012_inventory_autovacuum"):
        reverted = indexes()

    assert INDEX in reverted
    assert INDEX not in indexes()
