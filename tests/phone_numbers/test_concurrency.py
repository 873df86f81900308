"""Real concurrency on PostgreSQL: threads with their own database connections racing through
the HTTP API. transaction=True so every thread sees committed rows; the flush that follows such
a test removes the migrated prices, so `number_prices` puts them back first."""

import random
import threading
from collections import Counter

import pytest
from django.db import connection

from accounts.models import CreditTransaction
from phone_numbers.models import PhoneNumber
from tests.support.factories import add_numbers, make_api, make_org

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("number_prices"),
]


ORDERS = "/v1/phone-numbers/orders"


def race(requests):
    """Run each (api, body) in its own thread, all released at once; return the responses."""
    barrier = threading.Barrier(len(requests))
    results = [None] * len(requests)

    def order(index, api, body):
        try:
            barrier.wait(timeout=30)
            response = api.post(ORDERS, body)
            results[index] = (response.status_code, response.json())
        finally:
            connection.close()

    threads = [
        threading.Thread(target=order, args=(index, api, body))
        for index, (api, body) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(result is not None for result in results), "a thread did not finish"
    return results


def test_50_overlapping_explicit_orders_never_sell_a_number_twice():
    pool = add_numbers(*[f"+1415555{n:04d}" for n in range(40)])
    rng = random.Random(3)
    orgs = [make_org(f"Racer {i}", credit_cents=10_000) for i in range(50)]
    asks = [sorted(rng.sample(pool, rng.randint(1, 5))) for _ in orgs]

    results = race([(make_api(org), {"numbers": ask}) for org, ask in zip(orgs, asks, strict=True)])

    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {200, 409}, statuses
    assert statuses[200] >= 1 and statuses[409] >= 1, statuses
    sold = [item["number"] for status, body in results if status == 200 for item in body["data"]]
    assert len(sold) == len(set(sold)), "a number was sold twice"
    for org, ask, (status, body) in zip(orgs, asks, results, strict=True):
        owned = sorted(
            PhoneNumber.objects.filter(organization=org).values_list("number", flat=True)
        )
        org.refresh_from_db()
        charges = CreditTransaction.objects.filter(organization=org, kind="charge")
        if status == 200:
            assert [item["number"] for item in body["data"]] == ask
            assert owned == ask
        else:
            assert body["error"]["code"] == "INSUFFICIENT_INVENTORY"
            assert body["error"]["details"]["unavailable_numbers"]
            assert owned == []
        assert org.balance_cents == 10_000 - 100 * len(owned)
        assert sum(charge.amount_cents for charge in charges) == -100 * len(owned)
    assert PhoneNumber.objects.filter(state="assigned").count() == len(sold)


def test_30_one_number_orders_on_credit_for_10_charge_exactly_10():
    numbers = add_numbers(*[f"+1212555{n:04d}" for n in range(30)])
    org = make_org("Ten Numbers Worth", credit_cents=1_000)
    requests = [(make_api(org), {"numbers": [number]}) for number in numbers]

    results = race(requests)

    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 10, 402: 20}, statuses
    for status, body in results:
        if status == 402:
            assert body["error"]["code"] == "INSUFFICIENT_CREDIT"
            assert body["error"]["details"]["required_cents"] == 100
    org.refresh_from_db()
    assert org.balance_cents == 0
    assert PhoneNumber.objects.filter(organization=org).count() == 10
    ledger = CreditTransaction.objects.filter(organization=org).order_by("created_at")
    assert min(entry.balance_after_cents for entry in ledger) == 0
    assert sum(entry.amount_cents for entry in ledger) == 0
