"""A fake Telnyx API v2 on loopback, written from the published wire format (API.md §6.1).

A real HTTP server (http.server, one thread per request) that the service under test reaches
over TCP like the real one: tests point TELNYX_API_BASE_URL at `fake.base_url`. Scripted per
test, and it records every request it received so tests can assert on what "the carrier" saw.

    fake = FakeTelnyx().start()
    fake.script_order(outcome="partial_success", allocated=3, polls=2)
    fake.fail_next("POST /inexplicit_number_orders", status=429, headers={"x-ratelimit-reset": "1"})
    ...
    fake.requests_to("POST", "/inexplicit_number_orders")

By hand (prints its base URL and the public key that verifies its webhook signatures):

    python -m tests.fakes.telnyx --port 8765
"""

import argparse
import base64
import contextlib
import itertools
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PREFIX = "/v2"


@dataclass
class Recorded:
    method: str
    path: str  # without the /v2 prefix
    query: dict
    body: object
    headers: dict


@dataclass
class ScriptedOrder:
    outcome: str = "success"  # success | partial_success | failed
    polls: int = 1  # GETs of the order answered "pending" before the outcome
    allocated: int | None = None  # numbers delivered on partial_success (default: half)
    numbers: list[str] | None = None  # exactly these numbers, instead of generated ones


@dataclass
class FakeOrder:
    id: str
    customer_reference: str
    group: dict
    script: ScriptedOrder
    polls_seen: int = 0
    number_order_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    sub_order_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    cancelled: bool = False
    numbers: list[str] = field(default_factory=list)  # success numbers once finished
    failed_numbers: int = 0

    @property
    def finished(self) -> bool:
        return self.cancelled or self.polls_seen > self.script.polls

    def status(self) -> str:
        if not self.finished:
            return "pending"
        if self.cancelled and not self.numbers:
            return "failed"
        return self.script.outcome


class FakeTelnyx:
    def __init__(self, *, host="127.0.0.1", port=0):
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.coverage: dict[tuple[str, str | None], int] = {}
        self.default_coverage = 10_000
        self.scripts: deque[ScriptedOrder] = deque()
        self.failures: dict[str, deque] = {}
        self.delays: dict[str, float] = {}
        self.orders: dict[str, FakeOrder] = {}
        self.phone_numbers: dict[str, dict] = {}  # E.164 -> {"id", "status"}
        self.honour_reference_filter = True
        # Set `hold_create` and the create answer waits (after the order exists) until
        # `release_create` is set: the window in which a worker can die unrecorded.
        self.hold_create = threading.Event()
        self.release_create = threading.Event()
        self.create_received = threading.Event()
        self.signing_key = Ed25519PrivateKey.generate()
        self._exchanges = itertools.count()
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "FakeTelnyx":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release_create.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{PREFIX}"

    # --- scripting ----------------------------------------------------------------------------

    def script_order(self, **kwargs) -> None:
        """How the next created order behaves (FIFO; unscripted orders succeed after a poll)."""
        self.scripts.append(ScriptedOrder(**kwargs))

    def fail_next(self, route: str, *, status: int, times: int = 1, headers=None, code=None):
        """Answer the next `times` requests to route ("POST /inexplicit_number_orders", or
        "GET /inexplicit_number_orders/*" for any id) with this error."""
        body = {
            "errors": [
                {
                    "code": code or ("10011" if status == 429 else str(10000 + status)),
                    "title": "Too many requests" if status == 429 else "Error",
                    "detail": f"scripted {status} from the fake",
                }
            ]
        }
        queue = self.failures.setdefault(route, deque())
        for _ in range(times):
            queue.append((status, body, headers or {}))

    def public_key_b64(self) -> str:
        raw = self.signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def signed_headers(self, body: bytes, *, timestamp: int | None = None) -> dict:
        """The headers Telnyx sends with a webhook, signed with the fake's throwaway key."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        signature = self.signing_key.sign(str(timestamp).encode() + b"|" + body)
        return {
            "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
            "telnyx-timestamp": str(timestamp),
        }

    def number_order_complete_event(self, order_id: str, *, event_id: str | None = None) -> bytes:
        """The body of a `number_order.complete` push for one of the fake's orders."""
        order = self.orders[order_id]
        event = {
            "data": {
                "event_type": "number_order.complete",
                "id": event_id or str(uuid.uuid4()),
                "occurred_at": "2026-12-01T22:00:00Z",
                "record_type": "event",
                "payload": self._number_order(order),
            },
            "meta": {"attempt": 1, "delivered_to": "https://numbers.example/carrier/telnyx"},
        }
        return json.dumps(event).encode()

    # --- what was received --------------------------------------------------------------------

    def requests_to(self, method: str, path_prefix: str) -> list[Recorded]:
        with self.lock:
            return [
                r for r in self.requests if r.method == method and r.path.startswith(path_prefix)
            ]

    def placements_for(self, customer_reference: str) -> list[Recorded]:
        return [
            r
            for r in self.requests_to("POST", "/inexplicit_number_orders")
            if isinstance(r.body, dict) and r.body.get("customer_reference") == customer_reference
        ]

    def order_by_reference(self, customer_reference: str) -> FakeOrder | None:
        with self.lock:
            return next(
                (o for o in self.orders.values() if o.customer_reference == customer_reference),
                None,
            )

    # --- the API ------------------------------------------------------------------------------

    def _numbers_for(self, group: dict, count: int) -> list[str]:
        npa = group.get("national_destination_code") or (
            "888" if group.get("phone_number_type") == "toll_free" else "415"
        )
        contains = (group.get("phone_number") or {}).get("contains") or ""
        exchange = 200 + next(self._exchanges) % 800  # a fresh [2-9]XX per order
        if str(exchange)[1:] == "11":
            exchange += 1
        numbers = []
        for i in range(count):
            line = f"{i:04d}"
            if contains and len(contains) <= 4:
                line = (f"{i:0{4 - len(contains)}d}" if len(contains) < 4 else "") + contains
            numbers.append(f"+1{npa}{exchange}{line}")
        return numbers

    def _finish(self, order: FakeOrder) -> None:
        if order.numbers or order.failed_numbers:
            return
        requested = int(order.group["count_requested"])
        script = order.script
        if order.cancelled:
            count = 0
        elif script.outcome == "success":
            count = requested
        elif script.outcome == "partial_success":
            count = requested // 2 if script.allocated is None else script.allocated
        else:
            count = 0
        if script.numbers is not None:
            order.numbers = list(script.numbers)
        else:
            order.numbers = self._numbers_for(order.group, count)
        order.failed_numbers = max(0, requested - len(order.numbers))
        for number in order.numbers:
            self.phone_numbers.setdefault(number, {"id": str(uuid.uuid4()), "status": "active"})

    def _inexplicit(self, order: FakeOrder) -> dict:
        group = dict(order.group)
        group.update(
            status=order.status(),
            count_requested=int(order.group["count_requested"]),
            count_allocated=len(order.numbers) if order.finished else 0,
            orders=[
                {
                    "number_order_id": order.number_order_id,
                    "sub_number_order_ids": [order.sub_order_id],
                }
            ],
        )
        return {
            "id": order.id,
            "customer_reference": order.customer_reference,
            "ordering_groups": [group],
            "created_at": "2026-12-01T22:00:00Z",
        }

    def _number_order(self, order: FakeOrder) -> dict:
        rows = [
            {"id": str(uuid.uuid4()), "phone_number": n, "status": "success"} for n in order.numbers
        ]
        rows += [
            {"id": str(uuid.uuid4()), "phone_number": f"+1415000{i:04d}", "status": "failure"}
            for i in range(order.failed_numbers)
        ]
        if not order.finished:
            rows = []
        return {
            "id": order.number_order_id,
            "record_type": "number_order",
            "status": "success" if order.finished else "pending",
            "customer_reference": order.customer_reference,
            "sub_number_orders_ids": [order.sub_order_id],
            "phone_numbers": rows,
            "phone_numbers_count": len(rows),
        }

    def handle(self, method: str, path: str, query: dict, body):
        """(status, body, headers) for one request."""
        if path == "/inventory_coverage" and method == "GET":
            key = (query.get("filter[phone_number_type]"), query.get("filter[npa]"))
            count = self.coverage.get(key, self.default_coverage)
            return 200, {"data": [{"group": key[1], "group_type": "npa", "count": count}]}, {}
        if path == "/inexplicit_number_orders" and method == "POST":
            group = body["ordering_groups"][0]
            order = FakeOrder(
                id=str(uuid.uuid4()),
                customer_reference=body.get("customer_reference") or "",
                group=dict(group),
                script=self.scripts.popleft() if self.scripts else ScriptedOrder(),
            )
            self.orders[order.id] = order
            return 200, {"data": self._inexplicit(order)}, {}
        if path == "/inexplicit_number_orders" and method == "GET":
            reference = query.get("filter[customer_reference]")
            rows = [
                self._inexplicit(o)
                for o in self.orders.values()
                if not (self.honour_reference_filter and reference)
                or o.customer_reference == reference
            ]
            meta = {"total_pages": 1, "total_results": len(rows), "page_number": 1}
            return 200, {"data": rows, "meta": meta}, {}
        if path.startswith("/inexplicit_number_orders/") and method == "GET":
            order = self.orders.get(path.rsplit("/", 1)[1])
            if order is None:
                return 404, {"errors": [{"code": "10005", "detail": "Resource not found"}]}, {}
            order.polls_seen += 1
            if order.finished:
                self._finish(order)
            return 200, {"data": self._inexplicit(order)}, {}
        if path.startswith("/number_orders/") and method == "GET":
            number_order_id = path.rsplit("/", 1)[1]
            order = next(
                (o for o in self.orders.values() if o.number_order_id == number_order_id), None
            )
            if order is None:
                return 404, {"errors": [{"code": "10005", "detail": "Resource not found"}]}, {}
            return 200, {"data": self._number_order(order)}, {}
        if path.startswith("/sub_number_orders/") and path.endswith("/cancel"):
            sub = path.split("/")[2]
            order = next((o for o in self.orders.values() if o.sub_order_id == sub), None)
            if order is None:
                return 404, {"errors": [{"code": "10005", "detail": "Resource not found"}]}, {}
            if order.finished:
                detail = "Only sub number orders in 'pending' status can be cancelled"
                return 422, {"errors": [{"code": "10015", "detail": detail}]}, {}
            order.cancelled = True
            self._finish(order)
            return 200, {"data": {"id": sub, "status": "cancelled"}}, {}
        if path == "/phone_numbers" and method == "GET":
            wanted = query.get("filter[phone_number]")
            rows = [
                {"id": row["id"], "phone_number": number, "status": row["status"]}
                for number, row in self.phone_numbers.items()
                if number == wanted and row["status"] != "deleted"
            ]
            return 200, {"data": rows, "meta": {"total_results": len(rows)}}, {}
        if path.startswith("/phone_numbers/") and method == "DELETE":
            number_id = path.rsplit("/", 1)[1]
            for number, row in self.phone_numbers.items():
                if row["id"] == number_id and row["status"] != "deleted":
                    row["status"] = "deleted"
                    return 200, {"data": {"id": number_id, "phone_number": number}}, {}
            return 404, {"errors": [{"code": "10005", "detail": "Resource not found"}]}, {}
        return 404, {"errors": [{"code": "10005", "detail": f"no route {method} {path}"}]}, {}

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                url = urlsplit(self.path)
                path = url.path[len(PREFIX) :] if url.path.startswith(PREFIX) else url.path
                query = dict(parse_qsl(url.query))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                route = f"{self.command} {path}"
                wildcard = f"{self.command} {path.rsplit('/', 1)[0]}/*"
                with fake.lock:
                    fake.requests.append(
                        Recorded(self.command, path, query, body, dict(self.headers.items()))
                    )
                    delay = fake.delays.get(route, fake.delays.get(wildcard, 0))
                    failure = None
                    for key in (route, wildcard):
                        if fake.failures.get(key):
                            failure = fake.failures[key].popleft()
                            break
                    if failure is None:
                        if self.headers.get("Authorization", "") == "Bearer ":
                            failure = (401, {"errors": [{"code": "10009"}]}, {})
                        else:
                            answer = fake.handle(self.command, path, query, body)
                if delay:
                    time.sleep(delay)
                if failure is not None:
                    answer = failure
                elif route == "POST /inexplicit_number_orders":
                    fake.create_received.set()
                    if fake.hold_create.is_set():
                        fake.release_create.wait(60)
                status, payload, headers = answer
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (a killed worker)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

        return Handler


def main():
    parser = argparse.ArgumentParser(description="Run the fake Telnyx API v2 on loopback.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    fake = FakeTelnyx(port=args.port)
    print(f"TELNYX_API_BASE_URL={fake.base_url}")
    print(f"TELNYX_PUBLIC_KEY={fake.public_key_b64()}")
    print("TELNYX_API_KEY=anything-but-empty   (Ctrl-C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake.server.serve_forever()


if __name__ == "__main__":
    main()
