"""The floors an immediate order is measured against, both straight through psycopg in one
transaction, interleaved with the service's requests so that all see the same load:

- **minimal** (THE floor): the least an order needs, on bare tables of the same size in the
  same database: lock the organization row; claim q rows with FOR UPDATE SKIP LOCKED through
  one partial index; move the balance; insert a ledger row; commit.
- **same statements**: the service's own tables and the same claim statement as
  phone_numbers.allocation (4 indexes to write per claimed row since migration phone_numbers
  0013, 5 before it: a trigram index of every number),
  without Django: what the ORM and HTTP cost on top of the same SQL.
"""

from datetime import UTC, datetime

MINIMAL_ORGANIZATION_ID = 1

# The bare tables: a copy of the inventory (same rows, same size), one partial index.
MINIMAL_SETUP = (
    "DROP TABLE IF EXISTS floor_ledger, floor_number, floor_organization",
    "CREATE TABLE floor_organization (id bigint PRIMARY KEY, balance_cents bigint NOT NULL)",
    "INSERT INTO floor_organization VALUES (1, 100000000000000)",
    "CREATE TABLE floor_number (id uuid PRIMARY KEY, number text NOT NULL, state text NOT NULL, "
    "organization_id bigint)",
    "INSERT INTO floor_number SELECT id, number, state, NULL FROM phone_numbers_phonenumber",
    "CREATE INDEX floor_number_available ON floor_number (id) WHERE state = 'available'",
    "CREATE TABLE floor_ledger (id bigserial PRIMARY KEY, organization_id bigint NOT NULL, "
    "amount_cents bigint NOT NULL, balance_after_cents bigint NOT NULL, "
    "created_at timestamptz NOT NULL)",
    "ANALYZE floor_number",
)

MINIMAL_SQL = {
    "lock": "SELECT balance_cents FROM floor_organization WHERE id = %s FOR UPDATE",
    "claim": (
        "UPDATE floor_number SET state = 'assigned', organization_id = %s WHERE id IN "
        "(SELECT id FROM floor_number WHERE state = 'available' LIMIT %s FOR UPDATE SKIP LOCKED) "
        "RETURNING number"
    ),
    "charge": (
        "UPDATE floor_organization SET balance_cents = balance_cents - %s WHERE id = %s "
        "RETURNING balance_cents"
    ),
    "ledger": (
        "INSERT INTO floor_ledger (organization_id, amount_cents, balance_after_cents, "
        "created_at) VALUES (%s, %s, %s, %s)"
    ),
}

SAME_STATEMENTS_SQL = {
    "lock": "SELECT balance_cents, held_cents FROM accounts_organization WHERE id = %s FOR UPDATE",
    # A claim of the same shape as phone_numbers.allocation.claim_matching_numbers (which puts
    # the candidates in a MATERIALIZED CTE and checks the count), without its guards.
    "claim": (
        "UPDATE phone_numbers_phonenumber SET state = %s, organization_id = %s, order_id = %s, "
        "inbound_url = %s, status_url = %s, label = %s, assigned_at = %s, updated_at = %s, "
        "quarantine_ends_at = NULL WHERE id IN (SELECT id FROM phone_numbers_phonenumber "
        "WHERE state = %s AND number_type = %s LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING number"
    ),
    "charge": (
        "UPDATE accounts_organization SET balance_cents = balance_cents - %s WHERE id = %s "
        "RETURNING balance_cents, held_cents"
    ),
    "ledger": (
        "INSERT INTO accounts_credittransaction (id, organization_id, kind, amount_cents, "
        "held_change_cents, balance_after_cents, held_after_cents, order_id, note, created_at) "
        "VALUES (gen_random_uuid(), %s, 'charge', %s, 0, %s, %s, NULL, %s, %s)"
    ),
}


class FloorShort(RuntimeError):
    pass


def prepare_minimal(conn) -> None:
    """Create the bare tables next to the seeded inventory (after seeding, before the runs)."""
    with conn.transaction():
        for statement in MINIMAL_SETUP:
            conn.execute(statement)


def minimal_order(conn, quantity: int, unit_price: int = 100) -> list[str]:
    sql, organization_id, cost = MINIMAL_SQL, MINIMAL_ORGANIZATION_ID, quantity * unit_price
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(sql["lock"], [organization_id])
        cur.execute(sql["claim"], [organization_id, quantity])
        numbers = [row[0] for row in cur.fetchall()]
        if len(numbers) != quantity:
            raise FloorShort(f"minimal floor: only {len(numbers)} of {quantity} numbers")
        cur.execute(sql["charge"], [cost, organization_id])
        (balance,) = cur.fetchone()
        cur.execute(sql["ledger"], [organization_id, -cost, balance, datetime.now(UTC)])
    return numbers


def same_statements_order(conn, organization_id: str, quantity: int, unit_price: int = 100):
    """The service's statements on the service's tables: lock the organization, the
    allocation's claim, the balance update, the ledger insert, commit."""
    sql, cost, now = SAME_STATEMENTS_SQL, quantity * unit_price, datetime.now(UTC)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(sql["lock"], [organization_id])
        assign = ["assigned", organization_id, None, None, None, None, now, now]
        cur.execute(sql["claim"], [*assign, "available", "local", quantity])
        numbers = sorted(row[0] for row in cur.fetchall())
        if len(numbers) != quantity:
            raise FloorShort(f"same-statements floor: only {len(numbers)} of {quantity} numbers")
        cur.execute(sql["charge"], [cost, organization_id])
        balance, held = cur.fetchone()
        note = f"floor {quantity}"
        cur.execute(sql["ledger"], [organization_id, -cost, balance, held, note, now])
    return numbers
