"""The credit ledger: balance == sum(ledger) always, and never below zero (API.md §3)."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from accounts.models import CreditTransaction, Organization
from accounts.services import (
    credit_adjust,
    credit_charge,
    credit_charge_held,
    credit_hold,
    credit_release,
    credit_topup,
    lock_organization,
)
from api.errors import InsufficientCredit
from tests.support.factories import make_org


def assert_ledger_balances(organization):
    organization.refresh_from_db()
    totals = CreditTransaction.objects.filter(organization=organization).aggregate(
        amount=Sum("amount_cents"), held=Sum("held_change_cents")
    )
    assert organization.balance_cents == (totals["amount"] or 0)
    assert organization.held_cents == (totals["held"] or 0)
    assert 0 <= organization.held_cents <= organization.balance_cents
    return organization


def test_it_moves_credit_through_hold_charge_release_and_refund(db):
    org = make_org("Ledger Co", credit_cents=1_000)
    order_id = "6f1c2d3e-0000-4000-8000-000000000001"

    with transaction.atomic():
        locked = lock_organization(org.id)
        credit_hold(organization=locked, cents=600, order_id=order_id)
        credit_charge_held(organization=locked, cents=200, order_id=order_id)
        credit_release(organization=locked, cents=400, order_id=order_id)
        credit_charge(organization=locked, cents=100)
    credit_adjust(organization_id=org.id, cents=50, note="goodwill")

    org = assert_ledger_balances(org)
    assert (org.balance_cents, org.held_cents) == (750, 0)
    kinds = list(
        CreditTransaction.objects.filter(organization=org)
        .order_by("created_at", "id")
        .values_list("kind", "amount_cents", "held_change_cents")
    )
    assert ("hold", 0, 600) in kinds
    assert ("release", 0, -400) in kinds
    assert ("charge", -200, -200) in kinds


def test_it_refuses_a_hold_or_charge_beyond_the_available_credit(db):
    org = make_org("Small Co", credit_cents=300)

    with transaction.atomic():
        locked = lock_organization(org.id)
        credit_hold(organization=locked, cents=200, order_id=None)
        with pytest.raises(InsufficientCredit) as raised:
            credit_charge(organization=locked, cents=101)

    assert raised.value.details == {"required_cents": 101, "available_cents": 100}
    org = assert_ledger_balances(org)
    assert (org.balance_cents, org.held_cents) == (300, 200)


def test_an_adjustment_down_never_takes_available_credit_below_zero(db):
    org = make_org("Adjusted Co", credit_cents=100)

    with pytest.raises(InsufficientCredit):
        credit_adjust(organization_id=org.id, cents=-101, note="correction")
    credit_adjust(organization_id=org.id, cents=-100, note="correction")

    assert assert_ledger_balances(org).balance_cents == 0


def test_the_database_refuses_a_negative_balance_even_past_the_services(db):
    org = make_org("Constrained Co", credit_cents=0)

    with pytest.raises(IntegrityError), transaction.atomic():
        Organization.objects.filter(pk=org.pk).update(balance_cents=-1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_holds_and_charges_never_overdraw_and_keep_the_ledger_exact():
    """Many threads, each on its own database connection, race to hold and charge the same
    organization's credit. Without the row lock in lock_organization this loses updates
    (balance != sum(ledger)) or overdraws; with it, every operation serializes."""
    org = make_org("Race Co", credit_cents=2_000)
    threads_count, rounds, price = 12, 6, 100
    start = threading.Barrier(threads_count)
    outcomes = {"charged": 0, "refused": 0, "errors": []}
    outcomes_lock = threading.Lock()

    def customer(worker: int):
        try:
            start.wait()
            for round_ in range(rounds):
                try:
                    with transaction.atomic():
                        locked = lock_organization(org.id)
                        if (worker + round_) % 2:
                            credit_charge(organization=locked, cents=price)
                        else:
                            credit_hold(organization=locked, cents=price, order_id=None)
                            credit_charge_held(organization=locked, cents=price, order_id=None)
                    with outcomes_lock:
                        outcomes["charged"] += 1
                except InsufficientCredit:
                    with outcomes_lock:
                        outcomes["refused"] += 1
        except Exception as exc:  # collected and asserted on below
            with outcomes_lock:
                outcomes["errors"].append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes["errors"] == []
    org = assert_ledger_balances(org)
    assert outcomes["charged"] == 2_000 // price
    assert outcomes["refused"] == threads_count * rounds - 2_000 // price
    assert (org.balance_cents, org.held_cents) == (0, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_top_ups_are_never_lost():
    org = make_org("Topup Co", credit_cents=0)
    start = threading.Barrier(8)

    def top_up():
        try:
            start.wait()
            for _ in range(5):
                credit_topup(organization_id=org.id, cents=10)
        finally:
            connection.close()

    threads = [threading.Thread(target=top_up) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert assert_ledger_balances(org).balance_cents == 400
