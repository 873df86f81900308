"""No receiver can hold a delivery: one wall-clock deadline per attempt, every failure of an
attempt recorded with backoff, expired windows end dead, a cap on one organization's
deliveries in flight."""

import signal
import threading
import time
from datetime import timedelta

import pytest
from billiard.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.utils import timezone

from tests.support.factories import make_endpoint, make_org, make_terminal_order
from tests.support.receivers import TricklingReceiver
from webhooks import services, transport
from webhooks.models import DeliveryAttempt, WebhookDelivery

pytestmark = pytest.mark.usefixtures("private_targets_allowed")
Status = WebhookDelivery.Status


@pytest.fixture
def trickler():
    started = []

    def start(**kwargs):
        server = TricklingReceiver(**kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def one_delivery(org, url):
    make_endpoint(org, url)
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(org))
    return event.deliveries.get()


def timed_attempt(delivery):
    started = time.monotonic()
    attempt = services.delivery_attempt(delivery_id=delivery.id)
    return attempt, time.monotonic() - started


@pytest.mark.slow
def test_a_receiver_trickling_its_headers_is_cut_off_at_10_seconds(alice_org, trickler):
    receiver = trickler(stage="headers", interval=0.5)
    delivery = one_delivery(alice_org, receiver.url())

    attempt, elapsed = timed_attempt(delivery)

    assert 9.9 <= elapsed <= 11, elapsed
    assert attempt.error == "timed out after 10 s"
    assert attempt.status_code is None and not attempt.succeeded
    assert attempt.latency_ms <= 11_000
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED_RETRYING
    assert delivery.locked_until is None
    # The first retry waits 15-30 s (base 30 s, half of it random).
    assert (
        timedelta(seconds=15)
        <= delivery.next_attempt_at - attempt.at
        <= timedelta(seconds=30, milliseconds=100)
    )


def test_a_receiver_trickling_its_body_after_a_200_is_cut_off_and_failed(
    alice_org, trickler, monkeypatch
):
    monkeypatch.setattr(transport, "TIMEOUT_SECONDS", 1.5)
    receiver = trickler(stage="body", interval=0.2)
    delivery = one_delivery(alice_org, receiver.url())

    attempt, elapsed = timed_attempt(delivery)

    assert elapsed <= 2.5
    assert attempt.error == "timed out after 1.5 s"
    assert not attempt.succeeded
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED_RETRYING


def test_a_soft_time_limit_mid_send_is_a_failed_attempt_with_backoff(alice_org, receiver):
    # Celery delivers its soft time limit as a signal whose handler raises
    # SoftTimeLimitExceeded wherever the worker is; here a real timer signal does the same
    # while the receiver keeps the request waiting.
    receiver.delay = 3
    delivery = one_delivery(alice_org, receiver.url())

    def soft_limit(signum, frame):
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, soft_limit)
    signal.setitimer(signal.ITIMER_REAL, 0.7)
    try:
        attempt, _ = timed_attempt(delivery)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    assert attempt.error == "attempt failed: SoftTimeLimitExceeded"
    assert not attempt.succeeded
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED_RETRYING
    assert (delivery.attempt_count, delivery.locked_until) == (1, None)
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=10)


def test_an_attempt_whose_worker_died_is_recorded_failed_not_resent_at_once(alice_org, receiver):
    delivery = one_delivery(alice_org, receiver.url())
    # A lease that ran out with no attempt recorded: the worker was killed mid-send.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )

    attempt = services.delivery_attempt(delivery_id=delivery.id)

    assert attempt.error == "attempt did not finish (worker stopped)"
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED_RETRYING
    assert delivery.next_attempt_at > timezone.now()


def test_the_sweeper_ends_deliveries_past_their_window_dead_instead_of_resending(
    alice_org, receiver
):
    receiver.statuses = [500]
    delivery = one_delivery(alice_org, receiver.url())
    services.delivery_attempt(delivery_id=delivery.id)
    # Time moves past the 24-hour window while the retry message is lost.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        retry_until=timezone.now() - timedelta(seconds=1),
        next_attempt_at=timezone.now() - timedelta(hours=1),
    )

    enqueued = services.deliveries_enqueue_overdue()

    assert enqueued == 0
    delivery.refresh_from_db()
    assert delivery.status == Status.DEAD
    assert delivery.next_attempt_at is None
    assert delivery.last_error == "receiver answered 500"
    assert services.delivery_attempt(delivery_id=delivery.id) is None
    assert len(receiver.requests) == 1


def test_a_delivery_found_past_its_window_when_due_ends_dead_unsent(alice_org, receiver):
    delivery = one_delivery(alice_org, receiver.url())
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        retry_until=timezone.now() - timedelta(seconds=1)
    )

    assert services.delivery_attempt(delivery_id=delivery.id) is None

    delivery.refresh_from_db()
    assert delivery.status == Status.DEAD
    assert receiver.requests == []


def test_an_organization_over_its_in_flight_cap_waits(alice_org, receiver, settings):
    settings.WEBHOOKS_MAX_IN_FLIGHT_PER_ORGANIZATION = 1
    make_endpoint(alice_org, receiver.url("/a"))
    make_endpoint(alice_org, receiver.url("/b"))
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))
    sending, waiting = event.deliveries.order_by("endpoint__url")
    # One is being sent by another worker.
    WebhookDelivery.objects.filter(pk=sending.pk).update(
        locked_until=timezone.now() + timedelta(seconds=60)
    )

    assert services.delivery_attempt(delivery_id=waiting.id) is None

    waiting.refresh_from_db()
    assert receiver.requests == []
    assert waiting.status == Status.PENDING and waiting.attempt_count == 0
    assert waiting.next_attempt_at > timezone.now() + timedelta(seconds=4)

    # Once the other is done, it goes.
    WebhookDelivery.objects.filter(pk=sending.pk).update(locked_until=None)
    WebhookDelivery.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now())
    assert services.delivery_attempt(delivery_id=waiting.id).succeeded
    assert [r["headers"]["X-AmCore-Delivery-Id"] for r in receiver.requests] == [str(waiting.id)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_never_exceed_the_in_flight_cap(trickler, settings, monkeypatch):
    from webhooks.tasks import deliver_webhook

    monkeypatch.setattr(deliver_webhook, "apply_async", lambda *args, **kwargs: None)
    monkeypatch.setattr(transport, "TIMEOUT_SECONDS", 1.5)
    settings.WEBHOOKS_MAX_IN_FLIGHT_PER_ORGANIZATION = 1
    receiver = trickler(stage="headers", interval=0.2)
    org = make_org("Capped")
    make_endpoint(org, receiver.url("/a"))
    make_endpoint(org, receiver.url("/b"))
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(org))
    ids = list(event.deliveries.values_list("pk", flat=True))
    barrier = threading.Barrier(2)
    results = []

    def worker(delivery_id):
        try:
            barrier.wait()
            results.append(services.delivery_attempt(delivery_id=delivery_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(result is None for result in results) == [False, True]
    assert receiver.accepted == 1
    assert DeliveryAttempt.objects.count() == 1
