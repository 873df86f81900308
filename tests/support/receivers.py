"""Fake outside services for the tests, real HTTP on loopback.

- `Receiver`: a webhook receiver (ThreadingHTTPServer) that records every request and answers
  with the queued `statuses` (then 200), optionally after `delay` seconds or with a redirect;
  it listens on the first free port of `RECEIVER_PORTS`.
- `TricklingReceiver`: a receiver that never finishes answering: it reads the request, then
  sends its answer one byte at a time with a pause between bytes (each socket read on our side
  gets data in time, so only a deadline on the whole attempt stops it).
"""

import http.server
import socket
import threading
import time

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


class TricklingReceiver:
    def __init__(self, *, stage="headers", interval=0.5, duration=60.0):
        self.stage = stage  # "headers": the status line then headers trickle; "body": the body
        self.interval = interval
        self.duration = duration
        self.accepted = 0  # connections opened to it
        self.connections = []  # (opened, closed) monotonic times, once each one has ended
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path="/slow"):
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        opened = time.monotonic()
        try:
            conn.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                request += chunk
            if self.stage == "body":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                prefix = b""
            else:
                prefix = b"HTTP/1.1 200 OK\r\nX-Slow: "
            for byte in prefix:
                conn.sendall(bytes([byte]))
                time.sleep(self.interval / 10)
            until = time.monotonic() + self.duration
            while time.monotonic() < until and not self._stop.is_set():
                conn.sendall(b"a")
                time.sleep(self.interval)
        except OSError:
            pass  # the client hung up: what the deadline is for
        finally:
            with self._lock:
                self.connections.append((opened, time.monotonic()))
            conn.close()

    def stop(self):
        self._stop.set()
        self.server.close()
        self.thread.join(2)
