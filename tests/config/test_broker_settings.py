"""The broker settings that bound recovery (README: Recovery): RabbitMQ quorum queues with
publisher confirms, the Redis visibility-timeout rule, and the stall defaults."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.support.settings import load_settings

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
REDIS = "redis://127.0.0.1:6379/0"


def test_on_rabbitmq_both_task_queues_are_quorum_queues_with_confirmed_publishing(monkeypatch):
    conf = load_settings(monkeypatch, CELERY_BROKER_URL=RABBITMQ)

    queues = {queue.name: queue for queue in conf["CELERY_TASK_QUEUES"]}
    assert set(queues) == {"celery", "webhooks"}
    for queue in queues.values():
        assert queue.queue_arguments == {"x-queue-type": "quorum"}
        # Celery's native delayed delivery (countdowns on quorum queues) needs topic exchanges.
        assert queue.exchange.type == "topic"
    assert conf["CELERY_BROKER_TRANSPORT_OPTIONS"] == {"confirm_publish": True}
    assert conf["CELERY_TASK_DEFAULT_QUEUE_TYPE"] == "quorum"
    assert conf["CELERY_WORKER_DETECT_QUORUM_QUEUES"] is True
    assert conf["CELERY_TASK_ACKS_LATE"] and conf["CELERY_TASK_REJECT_ON_WORKER_LOST"]


def test_on_redis_the_visibility_timeout_outlasts_the_longest_countdown_and_task(monkeypatch):
    conf = load_settings(monkeypatch, CELERY_BROKER_URL=REDIS)

    visibility = conf["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"]
    longest = max(conf["BULK_ORDER_MAX_RECHECK_SECONDS"], conf["WEBHOOKS_RETRY_MAX_DELAY_SECONDS"])
    assert conf["LONGEST_COUNTDOWN_SECONDS"] == longest
    assert visibility == longest + conf["CELERY_TASK_TIME_LIMIT"] + 60 == 3960
    assert all(queue.queue_arguments == {} for queue in conf["CELERY_TASK_QUEUES"])


def test_a_visibility_timeout_shorter_than_the_rule_is_refused(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="CELERY_REDIS_VISIBILITY_TIMEOUT"):
        load_settings(monkeypatch, CELERY_BROKER_URL=REDIS, CELERY_REDIS_VISIBILITY_TIMEOUT="600")

    conf = load_settings(
        monkeypatch,
        CELERY_BROKER_URL=REDIS,
        WEBHOOKS_RETRY_MAX_DELAY_SECONDS="300",
        CELERY_REDIS_VISIBILITY_TIMEOUT="700",
    )
    assert conf["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"] == 700


def test_the_default_stall_and_sweep_resume_a_stuck_order_within_two_minutes(monkeypatch):
    conf = load_settings(monkeypatch)

    stall, sweep = conf["BULK_ORDER_STALL_SECONDS"], conf["BULK_ORDER_SWEEP_SECONDS"]
    assert (stall, sweep) == (90, 15)
    assert stall + sweep < 120
    # A healthy order re-checks the carrier (and records progress) more often than the stall.
    assert conf["BULK_ORDER_MAX_RECHECK_SECONDS"] < stall
    assert conf["CELERY_BEAT_SCHEDULE"]["resume-stalled-bulk-orders"]["schedule"] == sweep


def test_a_stall_not_above_the_recheck_interval_is_refused(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="BULK_ORDER_STALL_SECONDS"):
        load_settings(monkeypatch, BULK_ORDER_STALL_SECONDS="60")
