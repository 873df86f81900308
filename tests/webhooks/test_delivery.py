import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from orders.models import BulkOrder
from orders.selectors import with_assigned_numbers
from orders.serializers import BulkOrderSerializer
from tests.support.factories import make_endpoint, make_terminal_order
from webhooks import services, transport
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.usefixtures("private_targets_allowed")

Status = WebhookDelivery.Status
DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_verify():
    """The verification function exactly as docs/webhooks.md gives it to customers."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)
    namespace = {}
    exec(code, namespace)  # noqa: S102 - our own documentation, under test
    return namespace["verify_amcore_signature"]


def complete_orders(orders, capture):
    with capture(execute=True), transaction.atomic():
        for order in orders:
            services.bulk_order_completed(order=order)


def make_due(delivery):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_it_delivers_one_signed_event_per_terminal_order(
    alice_org, receiver, celery_eager, django_capture_on_commit_callbacks
):
    _, secret = make_endpoint(alice_org, receiver.url())
    orders = [
        make_terminal_order(alice_org, status)
        for status in (BulkOrder.Status.COMPLETE, BulkOrder.Status.PARTIAL, BulkOrder.Status.FAILED)
    ]

    complete_orders(orders, django_capture_on_commit_callbacks)
    complete_orders(orders, django_capture_on_commit_callbacks)  # a second call is a no-op

    verify = documented_verify()
    assert len(receiver.requests) == 3
    received = {}
    for request in receiver.requests:
        assert request["headers"]["Content-Type"] == "application/json"
        assert verify(secret, request["headers"]["X-AmCore-Signature"], request["body"])
        payload = json.loads(request["body"])
        assert payload["type"] == "phone_number.bulk_order.completed"
        assert payload["id"].startswith("evt_")
        assert request["headers"]["X-AmCore-Event-Id"] == payload["id"]
        received[payload["data"]["order_id"]] = payload["data"]
    for order in orders:
        assert received[str(order.id)] == BulkOrderSerializer(with_assigned_numbers(order)).data
    assert WebhookEvent.objects.count() == 3
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {Status.DELIVERED}
    assert DeliveryAttempt.objects.filter(succeeded=True).count() == 3


def test_it_signs_so_that_a_tampered_body_does_not_verify(
    alice_org, receiver, celery_eager, django_capture_on_commit_callbacks
):
    _, secret = make_endpoint(alice_org, receiver.url())
    complete_orders([make_terminal_order(alice_org)], django_capture_on_commit_callbacks)

    verify = documented_verify()
    request = receiver.requests[0]
    header = request["headers"]["X-AmCore-Signature"]
    tampered = request["body"].replace(b'"complete"', b'"failed"')
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert verify(secret, header, request["body"])
    assert tampered != request["body"]
    assert not verify(secret, header, tampered)
    assert not verify("whsec_another", header, request["body"])
    old = int(header.split(",")[0][2:]) - 3600
    assert not verify(secret, f"t={old},{header.split(',')[1]}", request["body"])


def test_it_retries_a_500_then_records_one_success(alice_org, receiver):
    make_endpoint(alice_org, receiver.url())
    receiver.statuses = [500]
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))
    delivery = WebhookDelivery.objects.get(event=event)

    first = services.delivery_attempt(delivery_id=delivery.id)
    delivery.refresh_from_db()
    assert first.status_code == 500 and not first.succeeded
    assert delivery.status == Status.FAILED_RETRYING
    # First retry after 15-30 s (base 30 s, half of it random).
    wait = (delivery.next_attempt_at - first.at).total_seconds()
    assert 15 <= wait <= 30
    assert services.delivery_attempt(delivery_id=delivery.id) is None  # not due yet

    make_due(delivery)
    second = services.delivery_attempt(delivery_id=delivery.id)
    delivery.refresh_from_db()
    assert delivery.next_attempt_at is None
    assert services.delivery_attempt(delivery_id=delivery.id) is None  # delivered: never again
    make_due(delivery)  # even if it looked due, a delivered delivery is not sent again
    assert services.delivery_attempt(delivery_id=delivery.id) is None

    delivery.refresh_from_db()
    assert second.status_code == 200 and second.succeeded
    assert delivery.status == Status.DELIVERED
    assert delivery.attempt_count == 2
    assert [a.status_code for a in delivery.attempts.all()] == [500, 200]
    assert delivery.attempts.filter(succeeded=True).count() == 1
    assert len(receiver.requests) == 2
    assert all(a.latency_ms is not None for a in delivery.attempts.all())


def test_it_marks_a_delivery_dead_after_the_retry_window(alice_org, receiver):
    make_endpoint(alice_org, receiver.url())
    receiver.statuses = [503]
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))
    delivery = WebhookDelivery.objects.get(event=event)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        retry_until=timezone.now() + timedelta(seconds=5)
    )

    services.delivery_attempt(delivery_id=delivery.id)

    delivery.refresh_from_db()
    assert delivery.status == Status.DEAD
    assert delivery.last_status_code == 503
    assert delivery.next_attempt_at is None
    make_due(delivery)
    assert services.delivery_attempt(delivery_id=delivery.id) is None


def test_it_backs_off_exponentially_up_to_the_cap():
    delays = [services.retry_delay(n) for n in range(1, 12)]

    assert 15 <= delays[0] <= 30
    assert 240 <= delays[4] <= 480
    assert all(1800 <= delay <= 3600 for delay in delays[8:])


def test_it_does_not_follow_redirects(alice_org, receiver):
    make_endpoint(alice_org, receiver.url())
    receiver.statuses = [302]
    receiver.redirect_to = receiver.url("/elsewhere")
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))

    attempt = services.delivery_attempt(delivery_id=event.deliveries.get().id)

    assert attempt.status_code == 302
    assert attempt.error == "redirects are not followed"
    assert [r for r in receiver.requests] == receiver.requests[:1]
    assert event.deliveries.get().status == Status.FAILED_RETRYING


def test_it_records_a_timeout_as_a_failed_attempt(alice_org, receiver, monkeypatch):
    monkeypatch.setattr(transport, "TIMEOUT_SECONDS", 0.3)
    receiver.delay = 1.0
    make_endpoint(alice_org, receiver.url())
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))

    attempt = services.delivery_attempt(delivery_id=event.deliveries.get().id)

    assert attempt.status_code is None
    assert attempt.error == "timed out after 0.3 s"
    assert event.deliveries.get().status == Status.FAILED_RETRYING


def test_it_records_a_refused_connection(alice_org, receiver):
    url = receiver.url()
    receiver.stop()
    make_endpoint(alice_org, url)
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))

    attempt = services.delivery_attempt(delivery_id=event.deliveries.get().id)

    assert attempt.status_code is None
    assert attempt.error == "connection failed: [Errno 111] Connection refused"


def test_it_delivers_only_to_subscribed_live_endpoints_of_the_organization(
    alice_org, bob_org, receiver
):
    make_endpoint(alice_org, receiver.url("/a"))
    deleted, _ = make_endpoint(alice_org, receiver.url("/deleted"))
    services.webhook_endpoint_delete(endpoint=deleted)
    make_endpoint(bob_org, receiver.url("/bob"))

    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))

    assert [d.endpoint.url for d in event.deliveries.all()] == [receiver.url("/a")]


def test_it_records_the_event_once_per_order(alice_org, receiver):
    make_endpoint(alice_org, receiver.url())
    order = make_terminal_order(alice_org)

    with transaction.atomic():
        first = services.bulk_order_completed(order=order)
    with transaction.atomic():
        second = services.bulk_order_completed(order=order)

    assert first is not None and second is None
    assert WebhookEvent.objects.filter(order_id=order.id).count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_it_sends_nothing_when_the_order_transaction_rolls_back(
    alice_org, receiver, celery_eager, django_capture_on_commit_callbacks
):
    make_endpoint(alice_org, receiver.url())
    order = make_terminal_order(alice_org)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.bulk_order_completed(order=order)
        raise RuntimeError("fulfilment failed after the hook")

    assert callbacks == []
    assert receiver.requests == []
    assert not WebhookEvent.objects.exists()


def test_it_has_no_event_for_an_order_filled_at_once(alice_org, receiver):
    make_endpoint(alice_org, receiver.url())

    with transaction.atomic():
        event = services.bulk_order_completed(
            order=make_terminal_order(alice_org, is_backorder=False)
        )

    assert event is None
    assert not WebhookEvent.objects.exists()


def test_it_refuses_an_order_that_is_not_terminal(alice_org):
    order = make_terminal_order(alice_org)
    order.status = BulkOrder.Status.PROCESSING

    with pytest.raises(ValueError):
        services.bulk_order_completed(order=order)


def test_it_ends_deliveries_of_a_deleted_endpoint_without_sending(alice_org, receiver):
    endpoint, _ = make_endpoint(alice_org, receiver.url())
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))
    services.webhook_endpoint_delete(endpoint=endpoint)

    assert services.delivery_attempt(delivery_id=event.deliveries.get().id) is None

    delivery = event.deliveries.get()
    assert delivery.status == Status.DEAD
    assert delivery.last_error == "endpoint deleted"
    assert receiver.requests == []


def test_it_leaves_a_delivery_alone_while_another_worker_sends_it(alice_org, receiver):
    make_endpoint(alice_org, receiver.url())
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))
    delivery = event.deliveries.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() + timedelta(seconds=30)
    )

    assert services.delivery_attempt(delivery_id=delivery.id) is None
    assert receiver.requests == []


def test_it_redelivers_a_dead_delivery_but_never_a_delivered_one(
    alice_org, receiver, celery_eager, django_capture_on_commit_callbacks
):
    make_endpoint(alice_org, receiver.url())
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))
    delivery = event.deliveries.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=Status.DEAD, next_attempt_at=None)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.delivery_redeliver(delivery_id=delivery.id) is True
    with django_capture_on_commit_callbacks(execute=True):
        assert services.delivery_redeliver(delivery_id=delivery.id) is False

    delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED
    assert len(receiver.requests) == 1


def test_it_re_enqueues_overdue_deliveries(alice_org, receiver, celery_eager):
    make_endpoint(alice_org, receiver.url())
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=10))

    assert services.deliveries_enqueue_overdue() == 1

    assert event.deliveries.get().status == Status.DELIVERED
    assert services.deliveries_enqueue_overdue() == 0
