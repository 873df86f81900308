"""GET /v1/billing/transactions: the ledger, newest first, keyset-paginated (API.md §3)."""

import pytest
from django.db import transaction

from accounts import scopes
from accounts.models import CreditTransaction
from accounts.services import credit_hold, credit_topup, lock_organization
from tests.support.factories import make_api

LEDGER = "/v1/billing/transactions"


def test_it_pages_through_the_ledger_newest_first_each_line_once(alice, alice_org):
    for n in range(44):
        credit_topup(organization_id=alice_org.id, cents=n + 1, note=f"top-up {n}")
    expected = [
        str(pk)
        for pk in CreditTransaction.objects.filter(organization=alice_org)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)
    ]
    assert len(expected) == 45  # with the opening credit

    seen, sizes, cursor = [], [], None
    while True:
        response = alice.get(LEDGER, data={"limit": 20, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.json()
        page = response.json()["data"]
        sizes.append(len(page))
        seen += [line["id"] for line in page]
        credit_topup(organization_id=alice_org.id, cents=1, note="arrives while paging")
        cursor = response.json()["meta"]["next_cursor"]
        if cursor is None:
            break

    assert sizes == [20, 20, 5]
    assert seen == expected


def test_each_line_has_the_contract_fields(alice, alice_org):
    with transaction.atomic():
        hold = credit_hold(
            organization=lock_organization(alice_org.id),
            cents=300,
            order_id="0b7c1a2e-5f0c-4a3e-9d5b-1c2d3e4f5a6b",
            note="held for an order",
        )
    silent = credit_topup(organization_id=alice_org.id, cents=5)

    no_note, newest, opening = alice.get(LEDGER).json()["data"]

    assert newest == {
        "id": str(hold.pk),
        "kind": "hold",
        "amount_cents": 0,
        "balance_after_cents": 10_000,
        "order_id": "0b7c1a2e-5f0c-4a3e-9d5b-1c2d3e4f5a6b",
        "created_at": hold.created_at.isoformat().replace("+00:00", "Z"),
        "note": "held for an order",
    }
    assert no_note["id"] == str(silent.pk)
    assert no_note["note"] is None  # an empty note is null
    assert no_note["balance_after_cents"] == 10_005
    assert opening["kind"] == "topup"
    assert opening["amount_cents"] == opening["balance_after_cents"] == 10_000
    assert opening["order_id"] is None


def test_it_shows_only_the_organizations_own_ledger(alice, bob, bob_org):
    credit_topup(organization_id=bob_org.id, cents=5, note="bob's")

    assert len(alice.get(LEDGER).json()["data"]) == 1
    assert len(bob.get(LEDGER).json()["data"]) == 2


def test_it_needs_billing_read(alice_org):
    response = make_api(alice_org, [scopes.NUMBERS_READ, scopes.NUMBERS_WRITE]).get(LEDGER)

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "missing required scope"
    assert make_api(alice_org, [scopes.BILLING_READ]).get(LEDGER).status_code == 200


@pytest.mark.parametrize(
    ("params", "key"),
    [({"cursor": "forged"}, "cursor"), ({"limit": "101"}, "limit"), ({"limit": "x"}, "limit")],
)
def test_bad_paging_is_422(alice, params, key):
    response = alice.get(LEDGER, data=params)

    assert response.status_code == 422
    assert list(response.json()["error"]["details"]) == [key]


def test_a_cursor_from_another_list_does_not_leak_other_lines(alice, bob, bob_org):
    for _ in range(3):
        credit_topup(organization_id=bob_org.id, cents=1, note="")
    bobs_cursor = bob.get(LEDGER, data={"limit": 1}).json()["meta"]["next_cursor"]

    # A valid cursor only says "older than this line": Alice still sees only her lines.
    response = alice.get(LEDGER, data={"cursor": bobs_cursor})

    assert response.status_code == 200
    assert all(line["balance_after_cents"] == 10_000 for line in response.json()["data"])
