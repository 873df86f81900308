import pytest


@pytest.fixture
def enqueued(monkeypatch):
    """Fulfilment messages are collected instead of sent: the test runs fulfilment itself, and
    nothing is left on the shared broker. The list of order ids enqueued."""
    from orders import tasks

    sent = []
    monkeypatch.setattr(tasks.fulfil_bulk_order, "delay", lambda order_id: sent.append(order_id))
    return sent
