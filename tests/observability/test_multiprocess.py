"""Counts are right across processes (API.md §8): two gunicorn workers and a Celery worker, all
writing to one PROMETHEUS_MULTIPROC_DIR, and every scrape, whichever worker answers it, reports
the sum of all of them."""

import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from orders import services as order_services
from orders.models import BulkOrder, CarrierOrder
from tests.observability.conftest import TOKEN, parse, value
from tests.support.factories import make_api, make_endpoint, make_numbers, make_org
from tests.support.processes import Gunicorn, Worker, database_url_of_test_db, wait_for
from tests.support.receivers import Receiver

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("number_prices"),
]


def start_web(env: dict) -> Gunicorn:
    """`gunicorn config.wsgi --workers 2` (with ./gunicorn.conf.py) on the test database. Ready
    when /metrics answers, not /healthz, whose count the test checks: a probe that gives up
    under load may still be answered later."""
    web = Gunicorn(workers=2, env=env)
    try:
        return web.wait_ready(timeout=90, path="/metrics", status=401)
    except BaseException:
        web.stop()
        raise


WORKER_ENV = (
    "PROMETHEUS_MULTIPROC_DIR",
    "SIMULATED_CARRIER_DELAY_SECONDS",
    "SIMULATED_CARRIER_FAILURE_RATE",
    "WEBHOOKS_ALLOW_PRIVATE_TARGETS",
    "WEBHOOKS_RETRY_BASE_SECONDS",
)


@pytest.fixture
def processes(tmp_path):
    """Environment shared by every process, and a list to stop them from."""
    multiproc_dir = tmp_path / "prometheus"
    multiproc_dir.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_test_db(),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "test-only-secret-key",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
        "METRICS_TOKEN": TOKEN,
        "METRICS_CACHE_SECONDS": "0",
        "SIMULATED_CARRIER_DELAY_SECONDS": "0",  # delivered at the first check
        "SIMULATED_CARRIER_FAILURE_RATE": "0",
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1",
        "WEBHOOKS_RETRY_BASE_SECONDS": "3600",  # a failed delivery is not retried during the test
    }
    started = []
    yield env, started
    for process in reversed(started):
        process.stop()


def test_counters_add_up_across_two_web_workers_and_a_celery_worker(processes, settings):
    env, started = processes
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    web = start_web(env)
    started.append(web)
    worker = Worker(**{key: env[key] for key in WORKER_ENV})
    started.append(worker)
    receiver = Receiver()
    receiver.statuses = [500] * 10
    org = make_org("Metered", credit_cents=10_000)
    api = make_api(org)
    auth = {"Authorization": f"Bearer {api.secret}"}
    make_endpoint(org, receiver.url())
    make_numbers(2, area_code="415")
    health_checks = 40
    for _ in range(health_checks):  # new connections: both workers get some
        assert web.get("/healthz")[0] == 200

    def post(body):
        request = urllib.request.Request(
            f"http://127.0.0.1:{web.port}/v1/phone-numbers/bulk",
            data=json.dumps(body).encode(),
            headers={**auth, "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())

    # An immediate order, then a backorder the worker completes (its webhook fails: 500).
    assert post({"quantity": 2, "area_code": "415"})[0] == 200
    status, body = post({"quantity": 3, "area_code": "312"})
    assert status == 202
    polls = 0

    def ended():
        nonlocal polls
        polls += 1
        code, _ = web.get(f"/v1/phone-numbers/bulk/{body['data']['order_id']}", headers=auth)
        assert code == 200
        order = BulkOrder.objects.get(pk=body["data"]["order_id"])
        return order.status != "processing" and receiver.requests

    wait_for(ended, timeout=60, what="the backorder and its webhook", processes=[worker, web])
    # A carrier error: an order whose carrier reference the carrier does not know.
    broken = BulkOrder.objects.create(
        organization=org,
        quantity=1,
        number_type="local",
        unit_price_cents=0,
        is_backorder=True,
        status=BulkOrder.Status.PROCESSING,
    )
    CarrierOrder.objects.create(
        bulk_order=broken,
        sequence=1,
        carrier="simulated",
        customer_reference=f"{broken.pk}:1",
        carrier_order_id="sim:unknown-reference",
        requested_count=1,
        status=CarrierOrder.Status.PLACED,
        attempts=1,
    )
    order_services.bulk_order_retry(order_id=broken.pk)
    wait_for(
        lambda: "CarrierError" in worker.output(),
        timeout=30,
        what="the carrier error",
        processes=[worker],
    )
    worker.stop()  # its samples stay in the directory: counters of a dead process still count
    worker_log = Path(worker.log.name).read_text()
    carrier_errors = len(re.findall(r"retry: Retry in", worker_log))
    assert carrier_errors >= 1
    # Every line of a fulfilment task, Celery's own included, names its order.
    task_lines = [
        json.loads(line)
        for line in worker_log.splitlines()
        if line.startswith("{") and '"task": "orders.tasks.fulfil_bulk_order"' in line
    ]
    assert any("succeeded" in line["event"] for line in task_lines)
    assert all(line.get("order_id") for line in task_lines)
    assert {line["order_id"] for line in task_lines} >= {body["data"]["order_id"], str(broken.pk)}

    scrapes = [web.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) for _ in range(6)]
    assert {code for code, _ in scrapes} == {200}
    # Every web worker has written samples: the scrapes below sum more than one process.
    sample_pids = {
        int(m)
        for m in re.findall(r"_(\d+)\.db", " ".join(os.listdir(env["PROMETHEUS_MULTIPROC_DIR"])))
    }
    assert len(sample_pids & web.child_pids()) == 2, web.output()

    first = parse(scrapes[0][1])
    for _, text in scrapes[1:]:
        later = parse(text)
        # Only the scrapes themselves moved in between, whichever worker answered.
        for key in first:
            if key[0].endswith(("_total", "_count")) and "/metrics" not in str(key):
                assert later.get(key) == first[key], key

    def requests(route, method, status):
        return value(
            first, "amcore_http_requests_total", route=route, method=method, status=str(status)
        )

    assert requests("/healthz", "GET", 200) == health_checks
    assert requests("/v1/phone-numbers/bulk", "POST", 200) == 1
    assert requests("/v1/phone-numbers/bulk", "POST", 202) == 1
    assert requests("/v1/phone-numbers/bulk/<str:id>", "GET", 200) == polls
    placed = "amcore_bulk_orders_placed_total"
    assert value(first, placed, mode="atomic", outcome="filled") == 1
    assert value(first, placed, mode="atomic", outcome="backordered") == 1
    assert value(first, "amcore_bulk_orders_finished_total", status="complete") == 1
    assert (
        value(first, "amcore_bulk_order_fulfilment_duration_seconds_count", status="complete") == 1
    )
    assert value(first, "amcore_webhook_deliveries_total", outcome="failed-retrying") == 1
    assert value(first, "amcore_webhook_deliveries_total", outcome="delivered") == 0

    def carrier(operation, outcome):
        return value(
            first,
            "amcore_carrier_calls_total",
            carrier="simulated",
            operation=operation,
            outcome=outcome,
        )

    assert carrier("coverage", "ok") == 1  # in the web worker that took the backorder
    assert carrier("place_order", "ok") == 1  # in the Celery worker
    assert carrier("check_order", "ok") == 1
    assert carrier("check_order", "error") == carrier_errors
    assert value(first, "amcore_bulk_orders_processing") == 1  # the broken one
    receiver.stop()
