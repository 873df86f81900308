"""/healthz (the process answers) and /readyz (database and broker reachable), no auth."""

import time

import pytest
from django.test import Client

from config.celery_app import app as celery_app
from tests.support.processes import free_port


@pytest.fixture
def closed_port():
    """A local port nothing listens on."""
    return free_port()


@pytest.fixture
def broker_at(monkeypatch):
    def point_broker_at(url):
        monkeypatch.setitem(celery_app.conf, "broker_url", url)
        monkeypatch.setitem(celery_app.conf, "broker_write_url", url)
        monkeypatch.setitem(celery_app.conf, "broker_transport_options", {})

    return point_broker_at


def test_healthz_answers_without_auth_or_database():
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"status": "ok"}}
    assert len(response["X-Request-Id"]) == 26


def test_readyz_answers_200_when_database_and_broker_are_reachable(db, broker_at):
    broker_at("memory://")

    response = Client().get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"database": "ok", "broker": "ok"}}


def test_readyz_answers_503_with_retry_after_when_the_broker_is_unreachable(
    db, broker_at, closed_port
):
    broker_at(f"redis://127.0.0.1:{closed_port}/0")

    started = time.monotonic()
    response = Client().get("/readyz")

    assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert error["request_id"] == response["X-Request-Id"]
    assert error["details"] == {"database": "ok", "broker": "unavailable"}


def test_readyz_answers_503_when_the_database_is_unreachable(db, broker_at, monkeypatch):
    from django.db import connection

    broker_at("memory://")

    def refuse(*args, **kwargs):
        raise connection.Database.OperationalError("connection refused")

    # The connection object is Django's, not our code: make it fail to connect the way a
    # stopped server does.
    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", refuse)
        response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json()["error"]["details"] == {"database": "unavailable", "broker": "ok"}
