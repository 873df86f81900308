from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from phone_numbers.inventory_csv import validate_inventory_csv
from phone_numbers.models import PhoneNumber
from tests.support.factories import add_numbers


def seed(*args) -> str:
    out = StringIO()
    call_command("seed_inventory", *args, stdout=out)
    return out.getvalue()


def numbers_now() -> list[str]:
    return sorted(PhoneNumber.objects.values_list("number", flat=True))


def test_it_seeds_exactly_n_new_available_numbers(db):
    output = seed("--count", "1200", "--area-code", "415", "212", "--random-seed", "7")

    assert output.strip() == "Added 1200 available local numbers (212, 415)."
    assert PhoneNumber.objects.filter(state="available", number_type="local").count() == 1200
    assert set(PhoneNumber.objects.values_list("area_code", flat=True)) == {"212", "415"}
    assert all(number[5] in "23456789" for number in numbers_now())  # exchange [2-9]XX


def test_it_seeds_the_same_numbers_with_the_same_seed(db):
    seed("--count", "300", "--area-code", "312", "--random-seed", "1")
    first = numbers_now()
    PhoneNumber.objects.all().delete()

    seed("--count", "300", "--area-code", "312", "--random-seed", "1")

    assert numbers_now() == first


def test_it_skips_numbers_that_exist_and_still_adds_n(db):
    seed("--count", "300", "--area-code", "312", "--random-seed", "1")
    existing = numbers_now()

    # Same seed: the first numbers it draws exist already, so it must draw fresh ones.
    output = seed("--count", "300", "--area-code", "312", "--random-seed", "1")

    assert "Added 300" in output
    assert PhoneNumber.objects.count() == 600
    assert set(existing) <= set(numbers_now())


def test_it_seeds_toll_free_numbers(db):
    seed("--count", "50", "--number-type", "toll_free", "--random-seed", "2")

    assert PhoneNumber.objects.filter(number_type="toll_free").count() == 50
    assert set(PhoneNumber.objects.values_list("area_code", flat=True)) <= {
        "800",
        "833",
        "844",
        "855",
        "866",
        "877",
        "888",
    }


@pytest.mark.parametrize(
    "args",
    [
        ["--count", "5", "--area-code", "911"],
        ["--count", "5", "--area-code", "800"],
        ["--count", "5", "--number-type", "toll_free", "--area-code", "415"],
    ],
)
def test_it_refuses_an_area_code_that_does_not_suit_the_type(db, args):
    with pytest.raises(CommandError, match="--area-code"):
        call_command("seed_inventory", *args, stdout=StringIO())

    assert PhoneNumber.objects.count() == 0


def write_csv(tmp_path, text):
    path = tmp_path / "inventory.csv"
    path.write_text(text)
    return str(path)


def test_it_imports_a_good_file_and_skips_existing_numbers(db, tmp_path):
    add_numbers("+14155550001")
    path = write_csv(
        tmp_path,
        "number,number_type\n+14155550001,local\n+14155550002,local\n\n+18005550001,toll_free\n",
    )
    out = StringIO()

    call_command("import_inventory", path, stdout=out)

    assert out.getvalue().strip() == (
        f"Imported 2 number(s) from {path}; skipped 1 already in inventory."
    )
    assert numbers_now() == ["+14155550001", "+14155550002", "+18005550001"]
    assert PhoneNumber.objects.get(number="+18005550001").number_type == "toll_free"


def test_it_reports_every_bad_line_and_imports_nothing(db, tmp_path):
    path = write_csv(
        tmp_path,
        "number,number_type\n"
        "+14155550001,local\n"  # 2 good
        "4155550002,local\n"  # 3 not E.164
        "+18005550001,local\n"  # 4 toll-free prefix, wrong type
        "+14155550003,toll_free\n"  # 5 local prefix, wrong type
        "+14155550001,local\n"  # 6 duplicate of line 2
        "+14155550004\n"  # 7 missing column
        "+14155550005,mobile\n"  # 8 unknown type
        "+19115550006,local\n",  # 9 N11
    )
    err = StringIO()

    with pytest.raises(CommandError, match="7 bad line"):
        call_command("import_inventory", path, stdout=StringIO(), stderr=err)

    lines = err.getvalue().strip().splitlines()
    assert [line.split(":")[1] for line in lines] == ["3", "4", "5", "6", "7", "8", "9"]
    assert "already on line 2" in lines[3]
    assert PhoneNumber.objects.count() == 0


@pytest.mark.parametrize("header", ["", "number\n", "number_type,number\n", "num,type\n"])
def test_it_refuses_a_file_without_the_header(db, tmp_path, header):
    path = write_csv(tmp_path, header + "+14155550001,local\n")
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_inventory", path, stdout=StringIO(), stderr=err)

    assert ":1: header must be exactly: number,number_type" in err.getvalue()
    assert PhoneNumber.objects.count() == 0


def test_it_refuses_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_inventory", str(tmp_path / "nope.csv"), stdout=StringIO())


def test_the_validation_accepts_a_byte_order_mark_and_any_iterable_of_lines():
    result = validate_inventory_csv(["\ufeffnumber,number_type", "+14155550001,local"])

    assert result.ok
    assert [row.number for row in result.rows] == ["+14155550001"]


def index_definitions() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname",
            [PhoneNumber._meta.db_table],
        )
        return [row[0] for row in cursor.fetchall()]


def constraint_definitions() -> list[tuple[str, str, str]]:
    """The table's constraints and the foreign keys pointing at it, with their definitions."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE conrelid = %s::regclass OR confrelid = %s::regclass "
            "ORDER BY 1, 2",
            [PhoneNumber._meta.db_table] * 2,
        )
        return cursor.fetchall()


@pytest.mark.postgres
def test_a_bulk_load_adds_the_same_numbers_and_keeps_every_index_key_and_foreign_key(db):
    from phone_numbers.services.inventory import inventory_seed

    indexes, constraints = index_definitions(), constraint_definitions()
    assert any(definition.startswith("PRIMARY KEY") for _, _, definition in constraints)
    assert any(owner != PhoneNumber._meta.db_table for owner, _, _ in constraints)  # pointing in

    added = inventory_seed(count=3000, area_codes=["415"], random_seed=5, bulk_load=True)
    loaded = numbers_now()
    assert added == 3000 and len(loaded) == 3000
    # Dropped and built again, the same definitions.
    assert index_definitions() == indexes
    assert constraint_definitions() == constraints
    assert PhoneNumber.objects.filter(state="available", number__contains="415").count() == 3000

    PhoneNumber.objects.all().delete()
    inventory_seed(count=3000, area_codes=["415"], random_seed=5, bulk_load=False)
    assert numbers_now() == loaded  # the same seed adds the same numbers either way


@pytest.mark.postgres
def test_a_bulk_load_adds_each_number_once_and_replaces_the_ones_drawn_twice(db):
    import random

    from phone_numbers.services.inventory import inventory_seed, random_numbers

    # 20,000 draws among one area code's 8 M numbers repeat some (about 25): the load must
    # keep each once (no unique constraint during the load) and still add exactly 20,000.
    draws = random_numbers(["415"], random.Random(9))
    first_draws = [next(draws) for _ in range(20_000)]
    assert len(set(first_draws)) < 20_000

    assert inventory_seed(count=20_000, area_codes=["415"], random_seed=9, bulk_load=True) == 20_000
    loaded = numbers_now()
    assert len(loaded) == len(set(loaded)) == 20_000
    assert set(first_draws) < set(loaded)

    PhoneNumber.objects.all().delete()
    inventory_seed(count=20_000, area_codes=["415"], random_seed=9, bulk_load=False)
    assert numbers_now() == loaded


@pytest.mark.postgres
def test_a_large_seed_into_a_non_empty_inventory_skips_existing_numbers(db):
    from phone_numbers.services import inventory

    seed("--count", "300", "--area-code", "312", "--random-seed", "1")
    existing = numbers_now()

    # At the bulk-load size, but the inventory is not empty: the batched path, which skips
    # the 300 numbers the same seed draws first.
    output = seed(
        "--count", str(inventory.BULK_LOAD_MIN_COUNT), "--area-code", "312", "--random-seed", "1"
    )

    assert f"Added {inventory.BULK_LOAD_MIN_COUNT} available" in output
    numbers = numbers_now()
    assert len(numbers) == len(set(numbers)) == inventory.BULK_LOAD_MIN_COUNT + 300
    assert set(existing) <= set(numbers)
