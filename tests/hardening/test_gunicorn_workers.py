"""The web process as the Procfile runs it (gunicorn.conf.py: gthread workers): slow clients do
not stop other requests, and an oversized upload is refused before its body is sent."""

import socket
import time

import pytest
import requests

from tests.support.processes import Gunicorn

pytestmark = pytest.mark.slow


@pytest.fixture
def one_worker(tmp_path):
    """gunicorn with the project's gunicorn.conf.py and a single worker process, so the only
    thing standing between slow clients and a fourth request is the worker's threads."""
    with Gunicorn(workers=1, log_path=tmp_path / "gunicorn.log") as server:
        yield server.port


def test_three_slow_clients_do_not_stop_a_fourth_request(one_worker):
    slow = []
    for _ in range(3):
        # Half a request, then silence: a sync worker would wait on it until its timeout.
        client = socket.create_connection(("127.0.0.1", one_worker), timeout=10)
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow.append(client)
    time.sleep(0.5)
    try:
        started = time.monotonic()
        response = requests.get(f"http://127.0.0.1:{one_worker}/healthz", timeout=10)
        elapsed = time.monotonic() - started
    finally:
        for client in slow:
            client.close()

    assert response.status_code == 200
    assert elapsed < 2, f"the fourth request waited {elapsed:.1f} s"


def test_a_20_mb_upload_is_refused_before_its_body_is_sent(one_worker):
    with socket.create_connection(("127.0.0.1", one_worker), timeout=10) as client:
        client.sendall(
            b"POST /admin/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            b"Cookie: csrftoken=" + b"a" * 32 + b"\r\n"
            b"Content-Length: 20971520\r\n\r\n"
        )
        answer = client.recv(4096)  # not a byte of the body was sent

    assert answer.startswith(b"HTTP/1.1 413 ")
