"""BENCH_SCALE=10m: the fixture (9 M of the 10 M seeded numbers owned by 1,000 organizations,
one of them holding 1 M) and the owned-number list's first and 10,000th page.

The fixture is set up with SQL, not by selling: it is the state the measurements start from.
Its owners are named `fixture-owner-*` and the integrity checks (which compare each
organization's charges with the numbers it holds) leave them out."""

from urllib.parse import quote

FIXTURE_OWNER_PREFIX = "fixture-owner-"
PAGE_SIZE = 100


def assign_fixture(bench_url: str, owner_ids: list[str], assigned: int, big_owner: int) -> None:
    """Assign `assigned` available numbers, drawn evenly from the whole number space (in the
    order of a hash of the number, so every area code keeps its share of available numbers: the
    first 9 M in number order would leave only the highest area codes to search): the first
    `big_owner` to owner_ids[0], the rest round-robin to the others; assigned_at 1 ms apart, so
    that every page has distinct keys. One UPDATE with the table's indexes, keys and foreign keys
    dropped and rebuilt after (as seed_inventory does for a large seed), in the Django process
    set up by make_organizations."""
    from django.db import connection, transaction

    from phone_numbers.models import PhoneNumber
    from phone_numbers.services.inventory import indexes_and_keys_rebuilt_after

    table = PhoneNumber._meta.db_table
    with (
        transaction.atomic(),
        indexes_and_keys_rebuilt_after(PhoneNumber),
        connection.cursor() as cursor,
    ):
        cursor.execute("CREATE TEMP TABLE fixture_owner (k int PRIMARY KEY, id uuid)")
        cursor.executemany("INSERT INTO fixture_owner VALUES (%s, %s)", list(enumerate(owner_ids)))
        cursor.execute(
            f"UPDATE {table} p SET state = 'assigned', organization_id = o.id, "
            "assigned_at = now() - r.n * interval '1 millisecond', updated_at = now() "
            "FROM (SELECT id, row_number() OVER (ORDER BY hashtext(number), number) AS n "
            f"FROM {table} WHERE state = 'available') r "
            "JOIN fixture_owner o ON o.k = CASE WHEN r.n <= %s THEN 0 "
            "ELSE 1 + r.n %% %s END WHERE p.id = r.id AND r.n <= %s",
            [big_owner, len(owner_ids) - 1, assigned],
        )
        cursor.execute("DROP TABLE fixture_owner")
    connection.close()


def tenth_thousand_page_cursor(bench_url: str, owner_id: str, page: int = 10_000) -> str:
    """The cursor a client holds after paging to page-1: the key of that page's last row."""
    from django.db import connection

    from api.pagination import encode_cursor
    from phone_numbers.models import PhoneNumber

    row = (
        PhoneNumber.objects.filter(organization_id=owner_id)
        .order_by("-assigned_at", "-pk")
        .values_list("assigned_at", "pk")[(page - 1) * PAGE_SIZE - 1]
    )
    connection.close()
    return encode_cursor(*row)


def measure_owned_pages(request, port, secret, cursor: str, runs: int, summary_ms) -> dict:
    """GET /v1/phone-numbers?limit=100: the first page, and the 10,000th (from its cursor)."""
    result = {}
    for name, query in (("first", ""), ("10,000th", f"&cursor={quote(cursor)}")):
        latencies = []
        for _ in range(runs):
            status, _, body, elapsed = request(
                port, "GET", f"/v1/phone-numbers?limit={PAGE_SIZE}{query}", None, secret
            )
            if status != 200 or len(body["data"]) != PAGE_SIZE:
                raise RuntimeError(f"owned page {name}: {status} {str(body)[:300]}")
            latencies.append(elapsed)
        result[name] = {**summary_ms(latencies), "rows": PAGE_SIZE}
    return result
