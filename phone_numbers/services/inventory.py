"""Adding numbers to inventory: seed_inventory, import_inventory and the admin CSV import
(inventory_add, inventory_seed). Numbers a carrier delivered enter inventory through
phone_numbers.services.provisioning."""

import io
import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from itertools import islice

from django.db import connection, transaction
from django.utils import timezone

from phone_numbers import numbering
from phone_numbers.models import PhoneNumber

# Rows per COPY / bulk_create batch: memory stays flat whatever the count.
PG_BATCH_SIZE = 50_000
SQLITE_BATCH_SIZE = 500  # under SQLite's 999 bound parameters for the existence check

# A seed this large into an empty inventory drops the table's plain indexes first and builds
# them again at the end (one transaction): building an index over 10 M rows once is several
# times faster than updating it 10 M times (docs/benchmarks.md, seeding).
REBUILD_INDEXES_MIN_COUNT = 100_000

# Exchange codes (the three digits after the area code) are [2-9]XX: 800 * 10,000 lines.
NUMBERS_PER_AREA_CODE = 800 * 10_000


@dataclass(frozen=True)
class InventoryRow:
    number: str
    number_type: str
    area_code: str


def inventory_row(number: str) -> InventoryRow:
    """The row for a valid E.164 number (raises ValueError for an invalid one)."""
    parsed = numbering.parse_e164(number)
    if parsed is None:
        raise ValueError(f"not a valid US E.164 number: {number!r}")
    return InventoryRow(number, *parsed)


def inventory_add(rows: Iterable[InventoryRow], *, on_batch=None) -> int:
    """Add these numbers to inventory as available, skipping any that exist; returns how many
    were added. Batched (COPY on PostgreSQL, bulk_create on SQLite) and each batch is its own
    transaction, so memory does not grow with the number of rows and a long load does not hold
    one huge transaction. `on_batch(rows_in_batch)` is called after each batch (progress)."""
    batch_size = PG_BATCH_SIZE if connection.vendor == "postgresql" else SQLITE_BATCH_SIZE
    add_batch = _add_batch_postgresql if connection.vendor == "postgresql" else _add_batch_orm
    added = 0
    iterator = iter(rows)
    while batch := list(islice(iterator, batch_size)):
        with transaction.atomic():
            added += add_batch(batch)
        if on_batch:
            on_batch(len(batch))
    return added


_STAGE = "phone_numbers_inventory_stage"


def _add_batch_postgresql(batch: list[InventoryRow]) -> int:
    table = PhoneNumber._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        # A session temp table emptied at commit: COPY into it (the fastest way in), then one
        # INSERT ... ON CONFLICT DO NOTHING skips numbers that exist.
        # A batch lost in a crash is simply not there: the command reports what it added.
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
            "(number text, number_type text, area_code text) ON COMMIT DELETE ROWS"
        )
        buffer = io.StringIO()
        for row in batch:
            buffer.write(f"{row.number}\t{row.number_type}\t{row.area_code}\n")
        pg_cursor = cursor.cursor  # the psycopg cursor under Django's wrapper
        with pg_cursor.copy(f"COPY {_STAGE} (number, number_type, area_code) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        cursor.execute(
            f"INSERT INTO {table} (id, number, number_type, area_code, state, sms_enabled, "
            "mms_enabled, voice_enabled, created_at, updated_at) "
            f"SELECT gen_random_uuid(), number, number_type, area_code, %s, true, true, true, "
            "%s, %s "
            # In number order: the three indexes on number are filled left to right.
            f"FROM {_STAGE} ORDER BY number ON CONFLICT (number) DO NOTHING",
            [PhoneNumber.State.AVAILABLE, now, now],
        )
        added = cursor.rowcount
        # Emptied at commit too; this is for batches that share one outer transaction.
        cursor.execute(f"TRUNCATE {_STAGE}")
        return added


@contextmanager
def indexes_rebuilt_after(model):
    """PostgreSQL, inside the caller's transaction: drop the model's plain indexes (not the
    ones behind its primary key and unique constraints, which the load's ON CONFLICT needs),
    and create them again, with the same definitions, when the block ends. The table is locked
    against every other reader and writer until the transaction ends: for loading an empty
    inventory, not a live one."""
    assert connection.in_atomic_block, "the indexes come back in the same transaction"
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = "
            "current_schema() AND i.tablename = %s AND NOT EXISTS (SELECT 1 FROM "
            "pg_constraint c WHERE c.conindid = to_regclass(quote_ident(i.indexname)))",
            [table],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        # Deferred foreign-key checks of the loaded rows run now: PostgreSQL builds no index
        # on a table with pending trigger events.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # Server memory for the sorts of the builds (the default 64 MB spills a 10 M-row
        # trigram index to disk), for this transaction only.
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)


def _add_batch_orm(batch: list[InventoryRow]) -> int:
    by_number = {row.number: row for row in batch}
    existing = set(
        PhoneNumber.objects.filter(number__in=by_number).values_list("number", flat=True)
    )
    now = timezone.now()
    new = [
        PhoneNumber(
            number=row.number,
            number_type=row.number_type,
            area_code=row.area_code,
            created_at=now,
            updated_at=now,
        )
        for number, row in by_number.items()
        if number not in existing
    ]
    # ignore_conflicts: a concurrent writer may add one of them between the check and here.
    PhoneNumber.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


class InventoryFull(ValueError):
    """Fewer free numbers are left in the requested area codes than asked for."""


def default_area_codes(number_type: str) -> list[str]:
    if number_type == numbering.TOLL_FREE:
        return sorted(numbering.TOLL_FREE_PREFIXES)
    return [code for code in map(str, range(200, 1000)) if numbering.is_local_area_code(code)]


def random_numbers(area_codes: list[str], rng: random.Random) -> Iterator[str]:
    """An endless stream of random valid numbers in these area codes."""
    while True:
        area_code = rng.choice(area_codes)
        exchange = rng.randrange(200, 1000)
        line = rng.randrange(10_000)
        yield f"+1{area_code}{exchange}{line:04d}"


def inventory_seed(
    *,
    count: int,
    number_type: str = numbering.LOCAL,
    area_codes: list[str] | None = None,
    random_seed: int | None = None,
    on_progress=None,
    rebuild_indexes: bool | None = None,
) -> int:
    """Add exactly `count` new available numbers of this type, spread at random over the area
    codes (default: every valid one for the type); numbers that exist are skipped and replaced
    by fresh ones. The same random_seed on the same inventory adds the same numbers. Raises
    InventoryFull (adding nothing) if the area codes cannot hold `count` more numbers.
    `on_progress(added)` is called after each batch. Returns the number added (== count).

    rebuild_indexes (PostgreSQL; default: when the inventory is empty and count is at least
    REBUILD_INDEXES_MIN_COUNT): the whole seed is one transaction that drops the table's plain
    indexes first and builds them once at the end (indexes_rebuilt_after)."""
    area_codes = sorted(set(area_codes or default_area_codes(number_type)))
    for area_code in area_codes:
        error = numbering.area_code_error(number_type, area_code)
        if error:
            raise ValueError(f"area code {area_code}: {error}")
    existing = PhoneNumber.objects.filter(area_code__in=area_codes).count()
    free = len(area_codes) * NUMBERS_PER_AREA_CODE - existing
    if count > free:
        raise InventoryFull(f"only {free} free numbers are left in those area codes")

    if rebuild_indexes is None:
        rebuild_indexes = (
            connection.vendor == "postgresql"
            and count >= REBUILD_INDEXES_MIN_COUNT
            and not PhoneNumber.objects.exists()
        )
    with (
        transaction.atomic() if rebuild_indexes else nullcontext(),
        indexes_rebuilt_after(PhoneNumber) if rebuild_indexes else nullcontext(),
    ):
        return _seed(count, number_type, area_codes, random.Random(random_seed), on_progress)


def _seed(count: int, number_type: str, area_codes: list[str], rng, on_progress) -> int:
    stream = random_numbers(area_codes, rng)
    added = 0
    while added < count:
        # Ask for what is missing. Duplicates within a batch are dropped here; a number that
        # exists (from an earlier batch or run) is skipped by the insert and replaced in the
        # next round. Only one batch is in memory at a time.
        wanted = min(count - added, PG_BATCH_SIZE)
        fresh: dict[str, InventoryRow] = {}
        while len(fresh) < wanted:
            number = next(stream)
            fresh[number] = InventoryRow(number, number_type, number[2:5])
        batch_added = inventory_add(fresh.values())
        added += batch_added
        if on_progress:
            on_progress(batch_added)
    return added
