"""A small TCP proxy a fault test owns (loopback only): it forwards to a real server until the
test cuts it (every connection reset, new ones refused) or holds it (answers from the server
stop reaching the client once the client sent a given byte string)."""

import contextlib
import socket
import threading


class TcpProxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._cut = threading.Event()
        self._hold_after: bytes | None = None
        self.held = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self):
        """The database is gone: reset every connection and refuse new ones until restore()."""
        self._cut.set()
        with self._lock:
            for sock in self._sockets:
                _close(sock)
            self._sockets.clear()

    def restore(self):
        self._cut.clear()

    def hold_after(self, marker: bytes):
        """Once a client sends `marker`, the server's answers to it are no longer forwarded."""
        self._hold_after = marker

    def close(self):
        self.cut()
        _close(self.listener)

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                _close(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            hold = threading.Event()
            for source, target, from_client in (
                (client, upstream, True),
                (upstream, client, False),
            ):
                threading.Thread(
                    target=self._pump, args=(source, target, hold, from_client), daemon=True
                ).start()

    def _pump(self, source, target, hold: threading.Event, from_client: bool):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if from_client and self._hold_after and self._hold_after in data:
                    hold.set()
                    self.held.set()
                if not from_client and hold.is_set():
                    continue  # swallowed: the client waits for an answer that never comes
                target.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(target)


def _close(sock):
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
