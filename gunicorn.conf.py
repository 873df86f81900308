"""gunicorn reads ./gunicorn.conf.py by default; the Procfiles' command-line flags still win.

Header and request-line limits: gunicorn refuses oversize ones itself with an HTML 431/414 page
before Django sees the request, i.e. outside the JSON envelope. Raise the header-field limit so
that a too-long but plausible header (e.g. a 10 KB Idempotency-Key) reaches the API and gets its
documented 422; what is larger still is refused by gunicorn (documented in docs/api.md)."""

import os

limit_request_field_size = 16384  # bytes per header line (gunicorn default 8190)
limit_request_line = 8190  # bytes of "METHOD /path?query HTTP/1.1" (the maximum gunicorn allows)

# Threads, not one sync process per connection: with sync workers, as many idle or slow clients
# as there are processes stop every other request (three idle connections timed out /healthz).
# A gthread worker parks idle keep-alive connections without tying up a thread, and each
# request gets one of `threads` threads. Each thread keeps its own database connection
# (CONN_MAX_AGE), so PostgreSQL sees up to workers x threads connections per machine.
# Production still runs behind a buffering proxy (README: nginx), which absorbs clients that
# send or read slowly; these settings only bound what reaches gunicorn.
worker_class = "gthread"
threads = 4
keepalive = 2  # seconds an idle keep-alive connection is kept
timeout = 30  # a request running longer than this gets its worker restarted
graceful_timeout = 30


def post_worker_init(worker):
    """After the worker loaded the app (Django is set up): import every view now, through the
    URLconf, instead of on the first request; then move every object alive so far (modules,
    classes, settings: ~120,000 of them) into the collector's permanent generation
    (gc.freeze). A full collection otherwise walks them all: 94 ms on this machine, a pause
    that lands on whichever request is running (issue 20, docs/benchmarks.md). What requests
    allocate is still collected as usual."""
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (the property imports the URLconf)
    gc.collect()
    gc.freeze()


def child_exit(server, worker):
    """prometheus-client multiprocess mode (api.metrics): a worker that exits leaves its sample
    files behind. Counters and histograms must keep them (their counts happened); this tells
    the library the process is gone so that live gauges stop reporting it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
