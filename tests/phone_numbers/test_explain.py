"""Every criterion is index-backed on PostgreSQL: EXPLAIN of the exact statements search and
claims run (allocation.criteria_sql), on a table seeded large enough (160,000 numbers, through
the COPY path of seed_inventory) and analyzed, so the planner chooses as it would at scale.
No plan may read the phone-number table sequentially. Bounded: about 20-40 s on the shared
machine, most of it the seed."""

import uuid

import pytest
from django.contrib import admin
from django.db import connection
from django.utils import timezone

from phone_numbers.admin import AreaCodeFilter, PhoneNumberAdmin
from phone_numbers.allocation import Criteria, criteria_sql
from phone_numbers.models import PhoneNumber
from phone_numbers.selectors import search_sql
from phone_numbers.services.inventory import inventory_seed

pytestmark = pytest.mark.postgres
TABLE = PhoneNumber._meta.db_table

CASES = {
    "area code": Criteria("local", "415"),
    "area code + exchange": Criteria("local", "415", exchange="555"),
    "area code + starts_with": Criteria("local", "415", starts_with="55"),
    "area code + ends_with": Criteria("local", "415", ends_with="2255"),
    "area code + contains (1 digit)": Criteria("local", "415", pattern="7"),
    "area code + features": Criteria("local", "415", features=("sms", "voice")),
    "area code + everything": Criteria(
        "local",
        "415",
        exchange="555",
        starts_with="5552",
        ends_with="55",
        pattern="22",
        features=("mms",),
    ),
    "starts_with 3": Criteria("local", starts_with="415"),
    "starts_with 5": Criteria("local", starts_with="41555"),
    "ends_with 3": Criteria("local", ends_with="255"),
    "ends_with vanity CALL": Criteria("local", ends_with="2255"),
    "contains 4": Criteria("local", pattern="5555"),
    "contains 6": Criteria("local", pattern="225566"),
    "toll-free ends_with": Criteria("toll_free", ends_with="2255"),
    "toll-free area code": Criteria("toll_free", "800"),
}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        inventory_seed(count=150_000, random_seed=16)
        inventory_seed(count=10_000, number_type="toll_free", random_seed=16)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {TABLE}")
        yield
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {TABLE} CASCADE")


def plan(sql, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("name", list(CASES))
def test_search_is_index_backed(seeded, db, name):
    sql, params = search_sql(
        criteria=CASES[name], quantity=100, organization_id=uuid.uuid4(), now=timezone.now()
    )

    explained = plan(sql, params)

    assert f"Seq Scan on {TABLE}" not in explained, explained


@pytest.mark.parametrize("name", list(CASES))
def test_claim_candidates_are_index_backed(seeded, db, name):
    # The candidate SELECT of claim_matching_numbers (its UPDATE is by primary key).
    where, params = criteria_sql(CASES[name], now=timezone.now())
    sql = f"SELECT id FROM {TABLE} WHERE {where} LIMIT %s FOR UPDATE SKIP LOCKED"

    explained = plan(sql, [*params, 1000])

    assert f"Seq Scan on {TABLE}" not in explained, explained


def test_the_admin_area_code_filter_walks_the_unique_index(seeded, db):
    # The changelist's query for "area code 415", ordered by number, one page.
    area_code = AreaCodeFilter(None, {"area_code": ["415"]}, PhoneNumber, None)
    queryset = area_code.queryset(None, PhoneNumber.objects.order_by("number"))

    explained = queryset[:51].explain()

    # Read from +1415 on, not the whole index in order with a filter.
    assert "Index Scan using phonenumber_number_unique" in explained, explained
    assert "Index Cond: (((number)::text >= '+14150000000'::text)" in explained, explained


@pytest.mark.parametrize(
    "term", ["+1415555", "+14155550123", "4155550123", "14155550123", "(415) 555-0123"]
)
def test_an_admin_search_that_pins_the_terms_place_walks_the_unique_index(seeded, db, term):
    # The changelist's query for the search box, ordered by number, one page: a term that can
    # only sit at the start of a number is a range of the unique index, not a scan.
    search = PhoneNumberAdmin(PhoneNumber, admin.site).get_search_results
    queryset, _ = search(None, PhoneNumber.objects.order_by("number"), term)

    explained = queryset[:51].explain()

    assert f"Seq Scan on {TABLE}" not in explained, explained
    assert "Index Cond: (((number)::text >= '+1" in explained, explained


def test_a_claimed_row_is_written_to_no_index_twice(db):
    # A claim cannot update a row in place (its state changes), so each index that holds the
    # new row version costs a write per claimed number. Every index without a predicate holds
    # it: these three, and no duplicate of them (migration 0011 dropped organization_id's own
    # index, which phonenumber_owned_idx covers, and number's varchar_pattern_ops twin;
    # migration 0013 the trigram index of every number, whose pending list stalled claims).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text FROM pg_index "
            "WHERE indrelid = %s::regclass AND indpred IS NULL",
            [TABLE],
        )
        unconditional = {row[0] for row in cursor.fetchall()}

    assert unconditional == {
        f"{TABLE}_pkey",
        "phonenumber_number_unique",
        f"{TABLE}_order_id_baac5bda",
    }
