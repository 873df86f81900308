"""API.md §1: the request id is in every log line of the request and in every task the request
enqueues."""

import time

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker

from config.celery_app import app as celery_app
from tests.config import tasks
from tests.support.logs import capture_json_lines

pytestmark = pytest.mark.urls("tests.config.urls")


@pytest.fixture
def log_lines():
    """Every log line written while the test runs, as our JSON formatter renders it."""
    yield from capture_json_lines(None)


@pytest.fixture
def test_log_lines():
    """Lines of the `tests.*` loggers only. (A worker's start-up re-applies settings.LOGGING,
    which replaces the root logger's handlers, and with them the one `log_lines` adds.)"""
    yield from capture_json_lines("tests")


@pytest.fixture
def memory_broker(monkeypatch):
    """Publish to kombu's in-process broker instead of the configured one."""
    monkeypatch.setitem(celery_app.conf, "broker_url", "memory://")
    monkeypatch.setitem(celery_app.conf, "broker_write_url", "memory://")
    monkeypatch.setitem(celery_app.conf, "broker_read_url", "memory://")
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", {})
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    tasks.seen_request_ids.clear()
    yield
    # The memory broker's queues outlive the test: leave nothing for the next one.
    celery_app.control.purge()


@pytest.fixture
def published_headers():
    headers = []

    def record(sender=None, headers_=None, **kwargs):
        headers.append(kwargs.get("headers") or {})

    signals.after_task_publish.connect(record, weak=False)
    yield headers
    signals.after_task_publish.disconnect(record)


def test_every_log_line_of_a_request_carries_its_request_id(alice, log_lines):
    response = alice.get("/v1/test/boom")

    lines = log_lines()
    assert response.status_code == 500
    assert {line.get("event") for line in lines} >= {"request", "unhandled_exception"}
    # Logged once, by our handler with the traceback; not again by Django's request logger.
    assert not any(line.get("logger") == "django.request" for line in lines)
    assert [line for line in lines if line.get("request_id") != response["X-Request-Id"]] == []
    assert all("level" in line and "timestamp" in line for line in lines)


@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_by_a_request_carries_its_request_id(
    memory_broker, published_headers, alice
):
    response = alice.post("/v1/test/enqueue", {})

    assert response.status_code == 202
    assert len(published_headers) == 1
    assert published_headers[0]["task"] == "tests.config.record_request_id"
    assert published_headers[0]["request_id"] == response["X-Request-Id"]


@pytest.mark.django_db(transaction=True)
def test_a_worker_binds_the_request_id_of_the_task_it_runs(memory_broker, alice, test_log_lines):
    response = alice.post("/v1/test/enqueue", {})
    assert response.status_code == 202

    with start_worker(
        celery_app, pool="solo", loglevel="INFO", perform_ping_check=False, shutdown_timeout=10
    ):
        for _ in range(100):
            if tasks.seen_request_ids:
                break
            time.sleep(0.05)

    assert tasks.seen_request_ids == [response["X-Request-Id"]]
    task_lines = [line for line in test_log_lines() if line.get("event") == "task ran"]
    assert task_lines and task_lines[0]["request_id"] == response["X-Request-Id"]


@pytest.mark.django_db(transaction=True)
def test_a_task_run_eagerly_keeps_the_request_id_and_hands_it_back(alice, log_lines):
    tasks.seen_request_ids.clear()
    celery_app.conf.task_always_eager = True
    try:
        response = alice.post("/v1/test/enqueue", {})
    finally:
        celery_app.conf.task_always_eager = False

    request_id = response["X-Request-Id"]
    assert response.status_code == 202
    assert tasks.seen_request_ids == [request_id]
    # The line logged after the task ran still carries the request's id.
    enqueued = [line for line in log_lines() if line.get("event") == "enqueued"]
    assert enqueued and enqueued[0]["request_id"] == request_id
