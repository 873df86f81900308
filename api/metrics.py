"""Every Prometheus metric of the service (API.md §8, docs/operations.md), defined once, here at
the bottom of the layers so that every app records into the same objects.

Counts must be right with several gunicorn workers and Celery processes, so the service runs
prometheus-client in multiprocess mode whenever PROMETHEUS_MULTIPROC_DIR is set (`make run` sets
it; production must, see docs/operations.md): each process writes its samples to files in that
directory, and a scrape, whichever web process answers it, reads them all. Without the variable
(tests, `manage.py shell`) the metrics live in the process that records them.

Labels are bounded sets only: route templates, never paths or ids; statuses and outcomes from
fixed choices. A label value taken from user input would let a client create series without
limit.

The business gauges (orders processing, held credit, ...) are not recorded by anyone: they are
read from the database when Prometheus scrapes (selectors in the apps that own the data, handed
to `register_scrape_gauges` by config), and cached for METRICS_CACHE_SECONDS.
"""

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

NAMESPACE = "amcore"
log = structlog.get_logger(__name__)

# Request latency: from 5 ms (a cached read) to 10 s (a bulk order of thousands of numbers).
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# A carrier answers in milliseconds to seconds; its timeouts are around 10-30 s.
CARRIER_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# A backorder takes seconds (simulated carrier) to days (a real carrier porting numbers).
FULFILMENT_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600, 86400)

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
    namespace=NAMESPACE,
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the first middleware to the response, by route template and method.",
    ["route", "method"],
    namespace=NAMESPACE,
    buckets=REQUEST_BUCKETS,
)
BULK_ORDERS_PLACED = Counter(
    "bulk_orders_placed",
    "POST /v1/phone-numbers/bulk that reached the service, by mode and outcome: filled (all "
    "numbers from inventory), backordered (202), partial_at_once, rejected_inventory, "
    "rejected_credit.",
    ["mode", "outcome"],
    namespace=NAMESPACE,
)
BULK_ORDERS_FINISHED = Counter(
    "bulk_orders_finished",
    "Backorders that reached a terminal status, by that status (complete, partial, failed).",
    ["status"],
    namespace=NAMESPACE,
)
BULK_ORDER_FULFILMENT_DURATION = Histogram(
    "bulk_order_fulfilment_duration_seconds",
    "Time from a backorder's 202 to its terminal status, by that status.",
    ["status"],
    namespace=NAMESPACE,
    buckets=FULFILMENT_BUCKETS,
)
CARRIER_CALLS = Counter(
    "carrier_calls",
    "Calls to the carrier adapter, by carrier, operation and outcome (ok, error: the carrier "
    "failed or could not be reached, exception: a bug on our side).",
    ["carrier", "operation", "outcome"],
    namespace=NAMESPACE,
)
CARRIER_CALL_DURATION = Histogram(
    "carrier_call_duration_seconds",
    "Latency of carrier calls, by carrier and operation, whatever their outcome.",
    ["carrier", "operation"],
    namespace=NAMESPACE,
    buckets=CARRIER_BUCKETS,
)
WEBHOOK_DELIVERIES = Counter(
    "webhook_deliveries",
    "Webhook delivery attempts, by the delivery's status after the attempt: delivered, "
    "failed_retrying (will be retried), dead (retries exhausted).",
    ["outcome"],
    namespace=NAMESPACE,
)


@contextmanager
def carrier_call(*, carrier: str, operation: str, expected_errors: tuple) -> Iterator[None]:
    """Count and time one carrier call. An exception of `expected_errors` (the adapter's
    "carrier failed" type) is an `error`, any other one an `exception`; both are re-raised."""
    started = time.perf_counter()
    outcome = "exception"
    try:
        yield
        outcome = "ok"
    except expected_errors:
        outcome = "error"
        raise
    finally:
        CARRIER_CALL_DURATION.labels(carrier=carrier, operation=operation).observe(
            time.perf_counter() - started
        )
        CARRIER_CALLS.labels(carrier=carrier, operation=operation, outcome=outcome).inc()


# --- Scrape-time gauges -------------------------------------------------------------------------

# Gauge name -> (help, label names), and the one function that reads them all, set by config.
_scrape_gauges: dict[str, tuple[str, tuple[str, ...]]] = {}
_scrape_reader: list[Callable[[], dict[str, list]]] = []
SCRAPE_CACHE_KEY = "metrics:scrape-gauges"


def register_scrape_gauges(gauges: dict[str, tuple[str, tuple[str, ...]]], reader) -> None:
    """Gauges read from the database at scrape time: `gauges` maps a name (without the
    namespace) to its help and label names; `reader()` returns {name: [(label values, value)]}.
    It runs at most once per METRICS_CACHE_SECONDS across every web process (its result is
    kept in the shared cache), so a scrape storm cannot load the database."""
    _scrape_gauges.clear()
    _scrape_gauges.update(gauges)
    _scrape_reader[:] = [reader]


def _read_scrape_gauges() -> dict[str, list]:
    if not _scrape_reader:
        return {}
    values = cache.get(SCRAPE_CACHE_KEY)
    if values is None:
        try:
            values = _scrape_reader[0]()
        except DatabaseError:
            # The counters are still worth serving while the database is down; the gauges are
            # absent from this scrape (alert on `absent(...)` or on /readyz).
            log.warning("metrics_gauges_unavailable", exc_info=True)
            return {}
        if settings.METRICS_CACHE_SECONDS:
            cache.set(SCRAPE_CACHE_KEY, values, timeout=settings.METRICS_CACHE_SECONDS)
    return values


class ScrapeGaugeCollector:
    def collect(self):
        values = _read_scrape_gauges()
        for name, (documentation, labels) in _scrape_gauges.items():
            family = GaugeMetricFamily(f"{NAMESPACE}_{name}", documentation, labels=labels)
            for label_values, value in values.get(name, []):
                family.add_metric(list(label_values), value)
            yield family


def render_metrics() -> tuple[bytes, str]:
    """The text exposition of every metric of every process, and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessLocal())
    registry.register(ScrapeGaugeCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _ProcessLocal:
    """This process's own metrics (the default registry), when there is no multiprocess
    directory to read."""

    def collect(self):
        yield from REGISTRY.collect()
