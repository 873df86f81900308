"""Adding numbers to inventory: seed_inventory, import_inventory and the admin CSV import
(inventory_add, inventory_seed). Numbers a carrier delivered enter inventory through
phone_numbers.services.provisioning."""

import io
import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice

from django.db import connection, transaction
from django.utils import timezone

from phone_numbers import numbering
from phone_numbers.models import PhoneNumber

# Rows per COPY / bulk_create batch: memory stays flat whatever the count.
PG_BATCH_SIZE = 50_000
SQLITE_BATCH_SIZE = 500  # under SQLite's 999 bound parameters for the existence check

# A seed this large into an empty inventory is a bulk load (one transaction): building each
# index and key over 10 M rows once is many times faster than updating it 10 M times
# (docs/benchmarks.md, Seeding).
BULK_LOAD_MIN_COUNT = 100_000

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


def _insert_available_sql(number_type_sql: str, area_code_sql: str, source: str) -> str:
    """INSERT of new available numbers from `source` (a table or subquery with a `number`
    column), in number order: the two *_sql arguments are SQL expressions for those columns,
    the rest is what every new number starts with (parameters: state, created_at, updated_at)."""
    table = PhoneNumber._meta.db_table
    return (
        f"INSERT INTO {table} (id, number, number_type, area_code, state, sms_enabled, "
        "mms_enabled, voice_enabled, created_at, updated_at) "
        f"SELECT gen_random_uuid(), number, {number_type_sql}, {area_code_sql}, %s, true, true, "
        f"true, %s, %s FROM {source} AS source ORDER BY number"
    )


def _add_batch_postgresql(batch: list[InventoryRow]) -> int:
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
        # In number order: the indexes on number are filled left to right.
        cursor.execute(
            _insert_available_sql("number_type", "area_code", _STAGE)
            + " ON CONFLICT (number) DO NOTHING",
            [PhoneNumber.State.AVAILABLE, now, now],
        )
        added = cursor.rowcount
        # Emptied at commit too; this is for batches that share one outer transaction.
        cursor.execute(f"TRUNCATE {_STAGE}")
        return added


@contextmanager
def indexes_and_keys_rebuilt_after(model):
    """PostgreSQL, inside the caller's transaction: drop every index of the model's table
    (those behind its primary key and unique constraints too), its foreign keys and the
    foreign keys pointing at it, and create them all again, with the same definitions, when
    the block ends. Nothing is then maintained row by row during the block, and nothing
    checks the dropped constraints either: the caller guarantees that what it writes satisfies
    them (re-adding them verifies it, or the transaction fails). The table is locked against
    every other reader and writer until the transaction ends: for loading an empty inventory,
    not a live one."""
    assert connection.in_atomic_block, "the indexes come back in the same transaction"
    table = model._meta.db_table
    with connection.cursor() as cursor:
        # Primary key, unique and foreign-key constraints on the table or pointing at it
        # (check constraints stay: they cost nothing per row). Keys first when re-adding:
        # the foreign keys need the primary key.
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE (conrelid = %s::regclass AND contype IN ('p', 'u', 'f')) "
            "OR (confrelid = %s::regclass AND contype = 'f') "
            "ORDER BY contype = 'f', conrelid = %s::regclass DESC, conname",
            [table, table, table],
        )
        constraints = cursor.fetchall()
        for owner, name, _ in reversed(constraints):
            cursor.execute(f'ALTER TABLE {owner} DROP CONSTRAINT "{name}"')
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = %s",
            [table],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        # Deferred foreign-key checks of rows written in the block run now: PostgreSQL alters
        # no table with pending trigger events.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # Server memory for the sorts of the builds (the default 64 MB spills a 10 M-row
        # trigram index to disk), for this transaction only.
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        keys = [c for c in constraints if not c[2].startswith("FOREIGN KEY")]
        foreign_keys = [c for c in constraints if c[2].startswith("FOREIGN KEY")]
        for owner, name, definition in keys:
            cursor.execute(f'ALTER TABLE {owner} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            cursor.execute(definition)
        for owner, name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {owner} ADD CONSTRAINT "{name}" {definition}')


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
    bulk_load: bool | None = None,
) -> int:
    """Add exactly `count` new available numbers of this type, spread at random over the area
    codes (default: every valid one for the type); numbers that exist are skipped and replaced
    by fresh ones. The same random_seed on the same inventory adds the same numbers (the first
    `count` new ones its random stream draws, either way below). Raises InventoryFull (adding
    nothing) if the area codes cannot hold `count` more numbers. `on_progress(added)` is called
    after each batch. Returns the number added (== count).

    bulk_load (PostgreSQL; default: when the inventory is empty and count is at least
    BULK_LOAD_MIN_COUNT): the whole seed is one transaction that loads the numbers with every
    index, key and foreign key of the table dropped and builds them once at the end
    (_bulk_load); otherwise batches of INSERT ... ON CONFLICT DO NOTHING (inventory_add)."""
    area_codes = sorted(set(area_codes or default_area_codes(number_type)))
    for area_code in area_codes:
        error = numbering.area_code_error(number_type, area_code)
        if error:
            raise ValueError(f"area code {area_code}: {error}")
    existing = PhoneNumber.objects.filter(area_code__in=area_codes).count()
    free = len(area_codes) * NUMBERS_PER_AREA_CODE - existing
    if count > free:
        raise InventoryFull(f"only {free} free numbers are left in those area codes")

    if bulk_load is None:
        bulk_load = (
            connection.vendor == "postgresql"
            and count >= BULK_LOAD_MIN_COUNT
            and not PhoneNumber.objects.exists()
        )
    stream = random_numbers(area_codes, random.Random(random_seed))
    if not bulk_load:
        return _seed(count, number_type, stream, on_progress)
    with transaction.atomic():
        added = _bulk_load(count, number_type, stream, on_progress)
        # The load dropped numbers the stream drew twice; replace them the usual way, now
        # that the unique constraint is back (a few thousand of 10 M over all area codes).
        return added + _seed(count - added, number_type, stream, None)


_BULK_STAGE = "phone_numbers_inventory_bulk_stage"


def _bulk_load(count: int, number_type: str, stream: Iterator[str], on_progress) -> int:
    """Into an EMPTY inventory, in the caller's transaction: the next `count` numbers of the
    stream, each once, with nothing maintained row by row. COPY the draws into a temporary
    table (no WAL, no index), then one INSERT ... SELECT DISTINCT into the table with its
    indexes, keys and foreign keys dropped (indexes_and_keys_rebuilt_after). DISTINCT is what
    the unique constraint would have done; the table was empty, so nothing else can collide.
    Returns how many distinct numbers were added (count minus the repeated draws)."""
    table = PhoneNumber._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        # Locked before it is checked empty: no writer can add a number in between.
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        assert not PhoneNumber.objects.exists(), "a bulk load is for an empty inventory"
        cursor.execute("SET LOCAL synchronous_commit = off")
        # The sort behind DISTINCT, in memory rather than in temporary files (this transaction
        # only; 10 M numbers fit in about 600 MB of server memory).
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(f"CREATE TEMP TABLE {_BULK_STAGE} (number text) ON COMMIT DROP")
        pg_cursor = cursor.cursor  # the psycopg cursor under Django's wrapper
        with pg_cursor.copy(f"COPY {_BULK_STAGE} (number) FROM STDIN") as copy:
            left = count
            while left:
                # One batch of text in memory at a time, whatever the count.
                batch = list(islice(stream, min(left, PG_BATCH_SIZE)))
                copy.write("\n".join(batch) + "\n")
                left -= len(batch)
                if on_progress:
                    on_progress(len(batch))
        with indexes_and_keys_rebuilt_after(PhoneNumber):
            # In number order: the heap follows `number`, the order every search reads.
            cursor.execute(
                _insert_available_sql(
                    "%s", "substr(number, 3, 3)", f"(SELECT DISTINCT number FROM {_BULK_STAGE})"
                ),
                [number_type, PhoneNumber.State.AVAILABLE, now, now],
            )
            added = cursor.rowcount
        # Now rather than at commit: the repeated draws are replaced in the same transaction.
        cursor.execute(f"DROP TABLE {_BULK_STAGE}")
    return added


def _seed(count: int, number_type: str, stream: Iterator[str], on_progress) -> int:
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
