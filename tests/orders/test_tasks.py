"""The Celery tasks run eagerly in-process here (the real worker is in test_worker.py)."""

from django.conf import settings

from orders import tasks
from orders.models import BulkOrder
from phone_numbers.carriers import CarrierError
from phone_numbers.carriers.simulated import SimulatedCarrier
from tests.support.factories import ledger

BULK = "/v1/phone-numbers/bulk"


def test_it_schedules_a_recheck_while_the_carrier_works(alice, settings, monkeypatch):
    settings.SIMULATED_CARRIER_DELAY_SECONDS = 20
    order_id = alice.post(BULK, {"quantity": 2}).json()["data"]["order_id"]
    scheduled = []
    monkeypatch.setattr(
        tasks.fulfil_bulk_order, "apply_async", lambda args, countdown: scheduled.append(countdown)
    )

    tasks.fulfil_bulk_order.apply((order_id,))

    assert len(scheduled) == 1 and 15 < scheduled[0] <= 20
    assert BulkOrder.objects.get(pk=order_id).status == "processing"


def test_it_caps_the_recheck_countdown_below_the_visibility_timeout(alice, settings, monkeypatch):
    settings.SIMULATED_CARRIER_DELAY_SECONDS = 24 * 3600
    order_id = alice.post(BULK, {"quantity": 2}).json()["data"]["order_id"]
    scheduled = []
    monkeypatch.setattr(
        tasks.fulfil_bulk_order, "apply_async", lambda args, countdown: scheduled.append(countdown)
    )

    tasks.fulfil_bulk_order.apply((order_id,))

    assert scheduled == [settings.BULK_ORDER_MAX_RECHECK_SECONDS] == [60]
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
    assert visibility is None or visibility > settings.LONGEST_COUNTDOWN_SECONDS


def test_it_retries_carrier_errors_with_backoff_and_changes_nothing(
    alice, alice_org, fast_carrier, monkeypatch
):
    order_id = alice.post(BULK, {"quantity": 2}).json()["data"]["order_id"]
    calls = []

    def carrier_down(self, ref):
        calls.append(ref)
        raise CarrierError("carrier unreachable")

    monkeypatch.setattr(SimulatedCarrier, "check_order", carrier_down)

    result = tasks.fulfil_bulk_order.apply((order_id,))

    assert result.failed()
    assert len(calls) == 1 + tasks.fulfil_bulk_order.max_retries
    # The backoff doubles, with jitter, never comes sooner than the carrier asked, and never
    # later than the longest re-check (the visibility-timeout rule: settings.broker).
    assert 1 <= tasks._backoff(0, CarrierError("x")) <= 2
    assert 8 <= tasks._backoff(3, CarrierError("x")) <= 16
    assert 30 <= tasks._backoff(6, CarrierError("x")) <= settings.BULK_ORDER_MAX_RECHECK_SECONDS
    assert 7 <= tasks._backoff(0, CarrierError("x", retry_after_seconds=7)) <= 8
    order = BulkOrder.objects.get(pk=order_id)
    assert (order.status, order.assigned_count) == ("processing", 0)
    assert [kind for kind, *_ in ledger(alice_org)] == ["topup", "hold"]


def test_it_completes_through_the_task(alice, fast_carrier):
    order_id = alice.post(BULK, {"quantity": 2}).json()["data"]["order_id"]

    tasks.fulfil_bulk_order.apply((order_id,))

    assert BulkOrder.objects.get(pk=order_id).status == "complete"


def test_beat_resumes_stalled_orders():
    entry = settings.CELERY_BEAT_SCHEDULE["resume-stalled-bulk-orders"]
    assert entry["task"] == tasks.resume_stalled_bulk_orders.name
    assert entry["schedule"] == settings.BULK_ORDER_SWEEP_SECONDS


def test_celery_loses_nothing_when_a_worker_dies():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
