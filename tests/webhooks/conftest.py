import http.server
import threading
import time

import pytest
from django.utils import timezone

from config.celery_app import app as celery_app
from orders.models import BulkOrder
from webhooks.models import BULK_ORDER_COMPLETED
from webhooks.services import webhook_endpoint_create

# Ports the receiver may listen on; it takes the first free one.
RECEIVER_PORTS = range(9800, 9900)


class Receiver:
    """A real HTTP server on loopback that records every request and answers with the queued
    statuses (then 200). `delay` makes it sleep before answering."""

    def __init__(self):
        self.requests = []
        self.statuses = []
        self.delay = 0.0
        self.redirect_to = None
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if receiver.redirect_to:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that timed out and hung up is part of some tests

        for port in RECEIVER_PORTS:
            try:
                self.server = Server(("127.0.0.1", port), Handler)
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no free port in 9800-9899 for the test receiver")
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path="/hooks", host="127.0.0.1", scheme="http"):
        return f"{scheme}://{host}:{self.port}{path}"

    def stop(self):
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def private_targets_allowed(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True


@pytest.fixture
def private_targets_refused(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False


@pytest.fixture
def celery_eager():
    """Run tasks in-process when they are enqueued (the on_commit path is the real one)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def make_endpoint(org, url, events=(BULK_ORDER_COMPLETED,), description=""):
    return webhook_endpoint_create(
        organization=org, url=url, events=list(events), description=description
    )


def make_terminal_order(org, status=BulkOrder.Status.COMPLETE, quantity=2, is_backorder=True):
    """A bulk order already in a terminal state, as fulfilment leaves it."""
    failed = {"complete": 0, "partial": 1, "failed": quantity}[status]
    return BulkOrder.objects.create(
        organization=org,
        quantity=quantity,
        number_type="local",
        unit_price_cents=100,
        is_backorder=is_backorder,
        status=status,
        assigned_count=quantity - failed,
        failed_count=failed,
        completed_at=timezone.now(),
    )
