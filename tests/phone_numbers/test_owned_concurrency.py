"""Real concurrency on PostgreSQL for releases and the quarantine sweeper: threads with their
own connections. transaction=True so every thread sees committed rows. (Not
serialized_rollback: restoring its snapshot collides with the content types that an earlier
transactional test's flush re-created; the prices these tests need are put back by a fixture.)"""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from phone_numbers.models import NumberPrice, PhoneNumber, PhoneNumberEvent
from phone_numbers.services import release as services
from tests.support.factories import add_numbers, give, make_api, make_org

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("number_prices"),
]


@pytest.fixture
def number_prices(transactional_db):
    """The migrated prices: an earlier transactional test's flush may have removed them."""
    for number_type, cents in (("local", 100), ("toll_free", 200)):
        NumberPrice.objects.get_or_create(number_type=number_type, defaults={"price_cents": cents})


def race(functions):
    """Run each function in its own thread, all released at once; return their results."""
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)
    errors = []

    def run(index, function):
        try:
            barrier.wait(timeout=30)
            results[index] = function()
        except Exception as exc:  # reported below, with the thread's error
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(result is not None for result in results), "a thread did not finish"
    return results


def test_four_sweepers_at_once_end_each_quarantine_exactly_once():
    org = make_org("Sweeper Co")
    ids = give(org, *[f"+1415555{n:04d}" for n in range(600)])
    services.numbers_release(organization_id=org.id, number_ids=list(ids.values())[:100])
    services.numbers_release(organization_id=org.id, number_ids=list(ids.values())[100:200])
    PhoneNumber.objects.filter(state="quarantined").update(
        quarantine_ends_at=timezone.now() - timedelta(minutes=1)
    )

    counts = race([lambda: services.quarantines_end(batch_size=25) for _ in range(4)])

    assert sum(counts) == 200
    assert PhoneNumber.objects.filter(state="available").count() == 200
    ended = Counter(
        PhoneNumberEvent.objects.filter(kind="quarantine_ended").values_list("number", flat=True)
    )
    assert len(ended) == 200 and set(ended.values()) == {1}


def test_overlapping_bulk_releases_and_orders_release_each_number_once_without_deadlock():
    org = make_org("Racing Releases", credit_cents=100_000)
    ids = list(give(org, *[f"+1415555{n:04d}" for n in range(60)]).values())
    add_numbers(*[f"+1212555{n:04d}" for n in range(20)])
    apis = [make_api(org) for _ in range(8)]

    def release(api, chunk):
        return lambda: api.post("/v1/phone-numbers/bulk/release", {"ids": chunk}).json()

    def order(api, numbers):
        return lambda: api.post("/v1/phone-numbers/orders", {"numbers": numbers}).json()

    jobs = [
        # Overlapping, in different orders: each number is in two requests.
        release(apis[0], ids[0:30]),
        release(apis[1], list(reversed(ids[15:45]))),
        release(apis[2], ids[30:60]),
        release(apis[3], list(reversed(ids[:15] + ids[45:]))),
        # The same organization buying other numbers meanwhile (organization lock, then numbers).
        order(apis[4], [f"+1212555{n:04d}" for n in range(0, 5)]),
        order(apis[5], [f"+1212555{n:04d}" for n in range(5, 10)]),
        order(apis[6], [f"+1212555{n:04d}" for n in range(10, 15)]),
        order(apis[7], [f"+1212555{n:04d}" for n in range(15, 20)]),
    ]

    bodies = race(jobs)

    assert all(body["success"] for body in bodies), bodies
    released = Counter(i for body in bodies[:4] for i in body["data"]["released"])
    assert set(released) == set(ids) and set(released.values()) == {1}
    for body in bodies[:4]:
        assert body["data"]["unknown"] == []
    assert PhoneNumber.objects.filter(organization=org).count() == 20  # the 212 numbers
    events = Counter(
        PhoneNumberEvent.objects.filter(kind="released").values_list("number", flat=True)
    )
    assert len(events) == 60 and set(events.values()) == {1}
