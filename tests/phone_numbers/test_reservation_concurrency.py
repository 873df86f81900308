"""50 threads, each its own organization and database connection, reserving overlapping
numbers at once on PostgreSQL: a number is never held by two reservations. (Checked once
against the lock: without reserve_listed_numbers' SELECT ... FOR UPDATE, numbers were given to
two reservations in this test.)"""

import random
import threading
from collections import Counter

import pytest
from django.db import connection

from api.errors import InsufficientInventory
from phone_numbers.models import PhoneNumber, ReservationNumber
from phone_numbers.services.reservations import reservation_create
from tests.support.factories import add_numbers, make_org

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_50_overlapping_reservations_never_hold_a_number_twice():
    pool = add_numbers(*[f"+1415555{n:04d}" for n in range(40)])
    rng = random.Random(5)
    orgs = [make_org(f"Holder {i}") for i in range(50)]
    asks = [sorted(rng.sample(pool, rng.randint(1, 6))) for _ in orgs]
    barrier = threading.Barrier(len(orgs))
    results = [None] * len(orgs)

    def run(index):
        try:
            barrier.wait(timeout=30)
            try:
                reservation = reservation_create(
                    organization_id=orgs[index].id, numbers=asks[index], ttl_seconds=600
                )
                results[index] = ("reserved", reservation.pk, reservation.unavailable_numbers)
            except InsufficientInventory as exc:
                results[index] = ("none", None, exc.details["unavailable_numbers"])
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(orgs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(result is not None for result in results), "a thread did not finish"

    holders = Counter(ReservationNumber.objects.values_list("number", flat=True))
    assert holders and max(holders.values()) == 1, "a number was given to two reservations"
    for index, (outcome, reservation_id, unavailable) in enumerate(results):
        held = sorted(
            ReservationNumber.objects.filter(reservation_id=reservation_id).values_list(
                "number", flat=True
            )
        )
        assert sorted(held + unavailable) == asks[index]  # every asked number accounted for
        if outcome == "reserved":
            assert held
            rows = PhoneNumber.objects.filter(number__in=held)
            assert {(row.reservation_id, row.reserved_by_id) for row in rows} == {
                (reservation_id, orgs[index].id)
            }
    assert Counter(outcome for outcome, _, _ in results)["none"] >= 1
