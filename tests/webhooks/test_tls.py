"""HTTPS through the pinned address: the connection goes to the checked IP while TLS still
sends the hostname (SNI) and verifies the certificate against it."""

import http.server
import ipaddress
import shutil
import ssl
import subprocess
import threading

import pytest

from tests.support.receivers import RECEIVER_PORTS
from webhooks import transport

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=hooks.test", "-addext", "subjectAltName=DNS:hooks.test",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_receiver(certificate):
    seen = {"sni": [], "hosts": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen["hosts"].append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # refused handshakes are part of these tests

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    for port in reversed(RECEIVER_PORTS):
        try:
            server = Server(("127.0.0.1", port), Handler)
            break
        except OSError:
            continue
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield port, seen
    server.shutdown()
    server.server_close()


def post(url):
    with transport.Deadline(5) as deadline:
        return transport.post_pinned(
            url=url,
            address=ipaddress.ip_address("127.0.0.1"),
            body=b"{}",
            headers={"Content-Type": "application/json"},
            deadline=deadline,
        )


def test_it_verifies_the_certificate_for_the_hostname_on_the_pinned_address(
    tls_receiver, certificate, monkeypatch
):
    port, seen = tls_receiver
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test certificate

    result = post(f"https://hooks.test:{port}/in")

    assert result.status_code == 204 and result.ok
    assert seen["sni"] == ["hooks.test"]
    assert seen["hosts"] == [f"hooks.test:{port}"]


def test_it_refuses_a_certificate_for_another_name(tls_receiver, certificate, monkeypatch):
    port, seen = tls_receiver
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))

    result = post(f"https://other.test:{port}/in")

    assert result.status_code is None
    assert result.error.startswith("TLS error")
    assert seen["hosts"] == []


def test_it_refuses_an_untrusted_certificate(tls_receiver):
    port, seen = tls_receiver

    result = post(f"https://hooks.test:{port}/in")

    assert result.status_code is None
    assert "certificate verify failed" in result.error
    assert seen["hosts"] == []
