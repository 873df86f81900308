import pytest

from config.celery_app import app as celery_app
from tests.fakes.telnyx import FakeTelnyx
from tests.support.processes import Worker


@pytest.fixture
def telnyx(settings):
    """The fake Telnyx on loopback, with this process's carrier settings pointed at it."""
    fake = FakeTelnyx().start()
    settings.CARRIER_BACKEND = "telnyx"
    settings.TELNYX_API_KEY = "KEY-test"
    settings.TELNYX_API_BASE_URL = fake.base_url
    settings.TELNYX_PUBLIC_KEY = fake.public_key_b64()
    settings.TELNYX_TIMEOUT_SECONDS = 2
    yield fake
    fake.stop()


@pytest.fixture
def enqueued(monkeypatch):
    """Fulfilment messages are collected instead of sent: the test runs fulfilment itself, and
    nothing is left on the shared broker. The list of order ids enqueued."""
    from orders import tasks

    sent = []
    monkeypatch.setattr(tasks.fulfil_bulk_order, "delay", lambda order_id: sent.append(order_id))
    return sent


@pytest.fixture
def workers():
    """workers(**kwargs) starts a tests.support.processes.Worker; all are stopped afterwards.
    The broker is emptied first: what earlier tests enqueued and no worker took (a cancel's
    carrier cleanup, say) would otherwise queue ahead of this test's tasks, one a second on
    the embedded broker."""
    celery_app.control.purge()
    started = []

    def start(**kwargs):
        worker = Worker(**kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
