import threading

import pytest
from django.db import connection, transaction

from tests.support.factories import make_endpoint, make_org, make_terminal_order
from webhooks import services
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEvent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_targets_allowed", "no_broker"),
]


@pytest.fixture
def no_broker(monkeypatch):
    """These tests commit for real, so on_commit callbacks run: keep their messages off the
    shared broker (the tests call the service directly)."""
    from webhooks.tasks import deliver_webhook

    monkeypatch.setattr(deliver_webhook, "apply_async", lambda *args, **kwargs: None)


def run_together(target, count=2):
    barrier = threading.Barrier(count)
    results = []

    def worker():
        try:
            barrier.wait()
            results.append(target())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_it_sends_once_when_two_workers_run_the_same_delivery(receiver):
    org = make_org("Concurrent Co")
    make_endpoint(org, receiver.url())
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(org))
    delivery_id = event.deliveries.get().id
    receiver.delay = 0.3  # the first worker is still sending when the second arrives

    results = run_together(lambda: services.delivery_attempt(delivery_id=delivery_id))

    assert sorted(result is None for result in results) == [False, True]
    assert len(receiver.requests) == 1
    assert DeliveryAttempt.objects.count() == 1
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.DELIVERED


def test_it_records_one_event_when_two_transactions_end_the_same_order(receiver):
    org = make_org("Concurrent Co")
    make_endpoint(org, receiver.url())
    order = make_terminal_order(org)

    def complete():
        with transaction.atomic():
            return services.bulk_order_completed(order=order)

    results = run_together(complete)

    assert sorted(result is None for result in results) == [False, True]
    assert WebhookEvent.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1
