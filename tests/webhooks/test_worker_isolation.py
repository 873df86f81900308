"""Slow receivers cannot stall fulfilment: a real Celery worker started like `make run`'s
(`-Q celery,webhooks`, 2 processes) works through deliveries to a trickling receiver while a
backordered bulk order of another customer completes. Without the deadline both processes
stay on the trickling receiver until the soft time limit; without the queue split the order's
message waits behind every delivery queued before it."""

import os
import time

import pytest
from django.db import transaction

from tests.support.factories import (
    make_api,
    make_endpoint,
    make_numbers,
    make_org,
    make_terminal_order,
)
from tests.support.processes import Worker, wait_for
from tests.support.receivers import TricklingReceiver
from webhooks import services
from webhooks.models import DeliveryAttempt, WebhookDelivery

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("number_prices"),
]
SLOW_DELIVERIES = 8  # 4 rounds of 10 s on 2 processes if they were ahead in one queue


@pytest.fixture
def dev_worker():
    """The worker line of Procfile.dev (`-Q celery,webhooks --concurrency 2`), on the test
    database."""
    worker = Worker(
        queues="celery,webhooks",
        concurrency=2,
        WEBHOOKS_ALLOW_PRIVATE_TARGETS=1,
        WEBHOOKS_MAX_IN_FLIGHT_PER_ORGANIZATION=SLOW_DELIVERIES,
        SIMULATED_CARRIER_DELAY_SECONDS=0,
    )
    yield worker
    worker.stop(timeout=20)


@pytest.fixture
def trickling_receiver():
    receiver = TricklingReceiver(stage="headers", interval=1.0, duration=120)
    yield receiver
    receiver.stop()


@pytest.mark.skipif(
    not os.environ.get("CELERY_BROKER_URL", "").startswith(("redis://", "amqp://")),
    reason="needs a broker server shared with the worker (CELERY_BROKER_URL=redis://...)",
)
def test_a_bulk_order_completes_while_slow_receivers_hold_deliveries(
    dev_worker, trickling_receiver
):
    wait_for(
        lambda: "ready." in dev_worker.output(),
        timeout=60,
        what="the worker",
        processes=[dev_worker],
    )
    victim = make_org("Slow Receivers")
    for i in range(SLOW_DELIVERIES):
        make_endpoint(victim, trickling_receiver.url(f"/slow/{i}"))
    with transaction.atomic():  # commits: the deliveries go to the broker
        services.bulk_order_completed(order=make_terminal_order(victim))
    buyer = make_org("Buyer", credit_cents=10_000)
    api = make_api(buyer)
    make_numbers(1, area_code="312")
    # Wait until the worker is busy with the slow receiver before the order comes in.
    wait_for(
        lambda: trickling_receiver.accepted >= 2,
        timeout=30,
        what="the first sends",
        processes=[dev_worker],
    )

    ordered = time.monotonic()
    response = api.post("/v1/phone-numbers/bulk", {"quantity": 3, "area_code": "312"})
    assert response.status_code == 202
    location = response["Location"]
    data = wait_for(
        lambda: (d := api.get(location).json()["data"])["status"] != "processing" and d,
        timeout=60,
        what="the order to complete",
        processes=[dev_worker],
    )
    took = time.monotonic() - ordered

    assert data["status"] == "complete"
    # One round of slow sends (10 s) at most, then the order's turn: not 4 rounds.
    assert took < 16, f"the order took {took:.1f} s\n{dev_worker.output()}"

    wait_for(
        lambda: DeliveryAttempt.objects.count() >= SLOW_DELIVERIES,
        timeout=90,
        what="every slow delivery to be attempted",
        processes=[dev_worker],
    )
    attempts = list(DeliveryAttempt.objects.all())
    assert {a.error for a in attempts} == {"timed out after 10 s"}
    assert max(a.latency_ms for a in attempts) <= 11_000
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed-retrying"}
    print(f"order completed {took:.1f} s after it was placed; attempts ended in "
          f"{max(a.latency_ms for a in attempts)} ms at most")  # fmt: skip
