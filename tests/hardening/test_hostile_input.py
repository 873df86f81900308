"""Hostile input, table-driven: every row is (method, path, body / headers) and the answer the
contract documents (status, error code, the `details` key naming the culprit). Never a 5xx,
always quickly.

To cover a new route, add rows. Rows for routes that are not on this branch yet are skipped
with "route not merged yet" and start running as soon as the route resolves.
`/v1/test/...` are the test-only stand-ins of tests/hardening/urls.py."""

import io
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client
from django.urls import Resolver404, resolve

from accounts import scopes
from api.views import UnknownApiRoute
from tests.support.factories import make_api, make_org

pytestmark = [pytest.mark.urls("tests.hardening.urls"), pytest.mark.django_db]

MAX_SECONDS = 2.0  # generous for a loaded CI machine; these answers take milliseconds
TEN_MB = 10 * 1024 * 1024
UUID = "7a1c7f4e-3b7e-4c52-9a43-0f8f9d1f2a11"

NESTED = '{"a":' * 100_000 + "1" + "}" * 100_000
SQL = "1' OR '1'='1'; DROP TABLE accounts_organization; --"
LONG = "5" * 10_000
RLM = "\u200f"


@dataclass
class Row:
    id: str
    method: str
    path: str
    body: object = None  # dict/list -> JSON; str/bytes -> sent as is; None -> no body
    status: int = 422
    code: str = "VALIDATION_FAILED"
    details: str | None = None  # a key of error.details (or the prefix of "key.N")
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    query: dict | None = None
    auth: bool = True
    exists_path: str | None = None  # path used to detect the route, when `path` cannot
    # False for rows that target no route on purpose (unknown paths, malformed ids): they run
    # whatever is merged.
    needs_route: bool = True


def probe(**changes):
    return {"quantity": 5, **changes}


def bulk(**changes):
    return {"quantity": 5, **changes}


QUANTITIES = [
    ("huge", 10**12),
    ("zero", 0),
    ("negative", -1),
    ("fractional", 1.5),
    ("string", "5"),
    ("boolean", True),
    ("null", None),
    ("2^63", 2**63),
    ("-2^63", -(2**63)),
    ("list", [5]),
]
BAD_DIGITS = [
    ("full-width", "\uff14\uff11\uff15"),  # ４１５
    ("arabic-indic", "\u0664\u0661\u0665"),  # ٤١٥
    ("devanagari", "\u096a\u0967\u096b"),
    ("superscript", "4\u00b95"),
    ("mixed", "41\uff15"),
    ("nul", "41\x005"),
    ("rlm", RLM + "415"),
    ("10k", LONG),
    ("sql", SQL),
    ("number", 415),
    ("empty", ""),
]

# fmt: off
ROWS = [
    # --- the parser and middleware, on a write route --------------------------------------
    Row("probe-ok", "POST", "/v1/test/probe", probe(), status=200, code=None),
    Row("probe-10mb", "POST", "/v1/test/probe", "x" * TEN_MB, 413, "PAYLOAD_TOO_LARGE"),
    Row("probe-1mib+1", "POST", "/v1/test/probe", " " * (1024 * 1024 + 1), 413,
        "PAYLOAD_TOO_LARGE"),
    Row("probe-empty", "POST", "/v1/test/probe", "", 400, "INVALID_INPUT"),
    Row("probe-no-body", "POST", "/v1/test/probe", None, 400, "INVALID_INPUT"),
    Row("probe-whitespace", "POST", "/v1/test/probe", "  \n", 400, "INVALID_INPUT"),
    Row("probe-not-json", "POST", "/v1/test/probe", "{quantity: 5}", 400, "INVALID_INPUT"),
    Row("probe-array", "POST", "/v1/test/probe", [probe()], 400, "INVALID_INPUT"),
    Row("probe-string", "POST", "/v1/test/probe", '"quantity"', 400, "INVALID_INPUT"),
    Row("probe-null", "POST", "/v1/test/probe", "null", 400, "INVALID_INPUT"),
    Row("probe-nan", "POST", "/v1/test/probe", '{"quantity": NaN}', 400, "INVALID_INPUT"),
    Row("probe-infinity", "POST", "/v1/test/probe", '{"quantity": Infinity}', 400,
        "INVALID_INPUT"),
    Row("probe-5000-digits", "POST", "/v1/test/probe", '{"quantity": 1' + "0" * 5000 + "}",
        400, "INVALID_INPUT"),
    Row("probe-1e400", "POST", "/v1/test/probe", '{"quantity": 1e400}', details="quantity"),
    Row("probe-latin1", "POST", "/v1/test/probe", b'{"label": "\xff"}', 400, "INVALID_INPUT"),
    Row("probe-lone-surrogate", "POST", "/v1/test/probe", '{"quantity": 5, "label": "\\ud800"}',
        details="label"),
    Row("probe-nested", "POST", "/v1/test/probe", NESTED, 400, "INVALID_INPUT"),
    Row("probe-nested-arrays", "POST", "/v1/test/probe", "[" * 100_000 + "]" * 100_000, 400,
        "INVALID_INPUT"),
    Row("probe-nested-value", "POST", "/v1/test/probe", probe(label={"a": {"b": [[[]]]}}),
        details="label"),
    Row("probe-unknown-field", "POST", "/v1/test/probe", probe(colour="red"), 400,
        "INVALID_INPUT", details="colour"),
    Row("probe-10k-unknown-field", "POST", "/v1/test/probe", probe(**{LONG: 1}), 400,
        "INVALID_INPUT"),
    Row("probe-text-plain", "POST", "/v1/test/probe", json.dumps(probe()), 415,
        "UNSUPPORTED_MEDIA_TYPE", content_type="text/plain"),
    Row("probe-form", "POST", "/v1/test/probe", "quantity=5", 415, "UNSUPPORTED_MEDIA_TYPE",
        content_type="application/x-www-form-urlencoded"),
    Row("probe-multipart", "POST", "/v1/test/probe", "--x--", 415, "UNSUPPORTED_MEDIA_TYPE",
        content_type="multipart/form-data; boundary=x"),
    Row("probe-xml", "POST", "/v1/test/probe", "<quantity>5</quantity>", 415,
        "UNSUPPORTED_MEDIA_TYPE", content_type="application/xml"),
    Row("probe-garbage-content-type", "POST", "/v1/test/probe", json.dumps(probe()), 415,
        "UNSUPPORTED_MEDIA_TYPE", content_type=";;;/\x7f"),
    # Accept is ignored: every answer is the JSON envelope (config/negotiation.py).
    Row("probe-accept-html", "POST", "/v1/test/probe", probe(), status=200, code=None,
        headers={"Accept": "text/html"}),
    Row("probe-accept-garbage", "POST", "/v1/test/probe", probe(), status=200, code=None,
        headers={"Accept": "*/*;q=x,,;;"}),
    Row("probe-10k-idempotency-key-ignored", "POST", "/v1/test/probe", probe(), status=200,
        code=None, headers={"Idempotency-Key": "k" * 10_240}),
    Row("probe-sql-label", "POST", "/v1/test/probe", probe(label=SQL), status=200, code=None),
    Row("probe-rlm-label", "POST", "/v1/test/probe", probe(label=RLM + "pool"), details="label"),
    Row("probe-nul-label", "POST", "/v1/test/probe", probe(label="po\x00ol"), details="label"),
    Row("probe-10k-label", "POST", "/v1/test/probe", probe(label=LONG), details="label"),
    Row("probe-javascript-url", "POST", "/v1/test/probe",
        probe(inbound_url="javascript:alert(1)"), details="inbound_url"),
    Row("probe-http-url", "POST", "/v1/test/probe", probe(inbound_url="http://example.com/x"),
        details="inbound_url"),
    Row("probe-10k-url", "POST", "/v1/test/probe",
        probe(inbound_url="https://example.com/" + "a" * 10_000), details="inbound_url"),
    Row("probe-no-key", "POST", "/v1/test/probe", probe(), 401, "UNAUTHORIZED", auth=False),
    Row("probe-get", "GET", "/v1/test/probe", None, 405, "METHOD_NOT_ALLOWED"),
    Row("probe-put", "PUT", "/v1/test/probe", probe(), 405, "METHOD_NOT_ALLOWED"),
    Row("probe-options", "OPTIONS", "/v1/test/probe", None, 405, "METHOD_NOT_ALLOWED"),
    *(Row(f"probe-quantity-{name}", "POST", "/v1/test/probe", probe(quantity=value),
          details="quantity") for name, value in QUANTITIES),
    *(Row(f"probe-area-code-{name}", "POST", "/v1/test/probe", probe(area_code=value),
          details="area_code") for name, value in BAD_DIGITS),
    *(Row(f"probe-pattern-{name}", "POST", "/v1/test/probe", probe(pattern=value),
          details="pattern") for name, value in BAD_DIGITS),
    # --- authentication ---------------------------------------------------------------------
    *(Row(f"auth-{name}", "GET", "/v1/billing/wallet", None, 401, "UNAUTHORIZED", auth=False,
          headers={"Authorization": value}) for name, value in [
        ("10k-token", "Bearer am_live_" + "a" * 10_000),
        ("sql-token", "Bearer am_live_' OR '1'='1' --aaaaaaaaaaaaaaaaaaaaaaaaa"),
        ("nul-token", "Bearer am_live_" + "a" * 16 + "\x00" + "a" * 16),
        ("basic", "Basic YWxpY2U6c2VjcmV0"),
        ("empty-bearer", "Bearer "),
        ("unicode-token", "Bearer am_live_" + "\uff41" * 40),
    ]),
    # --- a read route -----------------------------------------------------------------------
    Row("wallet-ok", "GET", "/v1/billing/wallet", status=200, code=None),
    Row("wallet-head", "HEAD", "/v1/billing/wallet", status=200, code=None),
    Row("wallet-head-no-key", "HEAD", "/v1/billing/wallet", status=401, code=None, auth=False),
    Row("wallet-options", "OPTIONS", "/v1/billing/wallet", None, 405, "METHOD_NOT_ALLOWED"),
    Row("wallet-post", "POST", "/v1/billing/wallet", {}, 405, "METHOD_NOT_ALLOWED"),
    Row("wallet-delete", "DELETE", "/v1/billing/wallet", None, 405, "METHOD_NOT_ALLOWED"),
    Row("wallet-accept-html", "GET", "/v1/billing/wallet", status=200, code=None,
        headers={"Accept": "text/html"}),
    Row("wallet-accept-xml", "GET", "/v1/billing/wallet", status=200, code=None,
        headers={"Accept": "application/xml"}),
    Row("wallet-accept-any", "GET", "/v1/billing/wallet", status=200, code=None,
        headers={"Accept": "*/*"}),
    Row("wallet-accept-garbage", "GET", "/v1/billing/wallet", status=200, code=None,
        headers={"Accept": "\x7f;;;q=NaN, , application/json;q=-1"}),
    Row("wallet-10mb-body", "GET", "/v1/billing/wallet", "x" * TEN_MB, 413,
        "PAYLOAD_TOO_LARGE"),
    Row("wallet-query-junk", "GET", "/v1/billing/wallet", status=200, code=None,
        query={"x": LONG, "'; DROP": "1"}),
    Row("unknown-path", "GET", "/v1/nothing/here", None, 404, "NOT_FOUND",
        needs_route=False),
    Row("unknown-path-post", "POST", "/v1/nothing/here", probe(), 404, "NOT_FOUND",
        needs_route=False),
    Row("unknown-path-10k", "GET", "/v1/" + "a" * 10_000, None, 404, "NOT_FOUND",
        needs_route=False),
    Row("unknown-path-unicode", "GET", "/v1/billing/wallet\u200f", None, 404, "NOT_FOUND",
        needs_route=False),
    Row("unknown-path-dots", "GET", "/v1/../v1/billing/wallet%00", None, 404, "NOT_FOUND",
        needs_route=False),
    # --- pagination (a test list route; every list route shares api.pagination) ----------
    Row("list-ok", "GET", "/v1/test/numbers", status=200, code=None, query={"limit": "100"}),
    *(Row(f"list-limit-{name}", "GET", "/v1/test/numbers", details="limit",
          query={"limit": value}) for name, value in [
        ("zero", "0"), ("negative", "-1"), ("101", "101"), ("huge", "9" * 1000),
        ("fractional", "1.5"), ("string", "abc"), ("full-width", "\uff15"), ("empty", ""),
        ("2^63", str(2**63)), ("nul", "5\x00"),
    ]),
    *(Row(f"list-cursor-{name}", "GET", "/v1/test/numbers", details="cursor",
          query={"cursor": value}) for name, value in [
        ("garbage", "not-a-cursor"), ("huge", "A" * 100_000), ("empty", ""), ("nul", "\x00"),
        ("sql", SQL), ("forged", "WyIyMDI2LTAxLTAxIiwiMSJd:1s:forged"),
        ("unicode", "\uff41" * 50),
    ]),
    Row("detail-unknown", "GET", f"/v1/test/numbers/{UUID}", None, 404, "NOT_FOUND"),
    Row("detail-malformed", "GET", "/v1/test/numbers/not-a-uuid", None, 404, "NOT_FOUND",
        needs_route=False),
    # --- routes of other issues (skipped until merged) ---------------------------------------
    *(Row(f"bulk-quantity-{name}", "POST", "/v1/phone-numbers/bulk", bulk(quantity=value),
          details="quantity") for name, value in [*QUANTITIES, ("10001", 10_001)]),
    Row("bulk-quantity-missing", "POST", "/v1/phone-numbers/bulk", {"number_type": "local"},
        details="quantity"),
    *(Row(f"bulk-area-code-{name}", "POST", "/v1/phone-numbers/bulk", bulk(area_code=value),
          details="area_code") for name, value in BAD_DIGITS),
    *(Row(f"bulk-pattern-{name}", "POST", "/v1/phone-numbers/bulk", bulk(pattern=value),
          details="pattern") for name, value in BAD_DIGITS),
    Row("bulk-toll-free-local-area", "POST", "/v1/phone-numbers/bulk",
        bulk(number_type="toll_free", area_code="415"), details="area_code"),
    Row("bulk-number-type", "POST", "/v1/phone-numbers/bulk", bulk(number_type=SQL),
        details="number_type"),
    Row("bulk-fill-by-sql", "POST", "/v1/phone-numbers/bulk", bulk(fill_by=SQL),
        details="fill_by"),
    Row("bulk-fill-by-no-zone", "POST", "/v1/phone-numbers/bulk",
        bulk(fill_by="2099-01-01T00:00:00"), details="fill_by"),
    Row("bulk-fill-by-number", "POST", "/v1/phone-numbers/bulk", bulk(fill_by=1),
        details="fill_by"),
    Row("bulk-mode-other", "POST", "/v1/phone-numbers/bulk", bulk(mode="ATOMIC"),
        details="mode"),
    Row("bulk-label-rlm", "POST", "/v1/phone-numbers/bulk", bulk(label=RLM + "x"),
        details="label"),
    Row("bulk-label-10k", "POST", "/v1/phone-numbers/bulk", bulk(label=LONG), details="label"),
    Row("bulk-url-http", "POST", "/v1/phone-numbers/bulk",
        bulk(status_url="http://example.com"), details="status_url"),
    Row("bulk-unknown-field", "POST", "/v1/phone-numbers/bulk", bulk(price_cents=0), 400,
        "INVALID_INPUT", details="price_cents"),
    Row("bulk-10mb", "POST", "/v1/phone-numbers/bulk", "x" * TEN_MB, 413, "PAYLOAD_TOO_LARGE"),
    Row("bulk-nested", "POST", "/v1/phone-numbers/bulk", NESTED, 400, "INVALID_INPUT"),
    Row("bulk-empty", "POST", "/v1/phone-numbers/bulk", "", 400, "INVALID_INPUT"),
    Row("bulk-text-plain", "POST", "/v1/phone-numbers/bulk", json.dumps(bulk()), 415,
        "UNSUPPORTED_MEDIA_TYPE", content_type="text/plain"),
    Row("bulk-idempotency-key-10k", "POST", "/v1/phone-numbers/bulk", bulk(),
        details="Idempotency-Key", headers={"Idempotency-Key": "k" * 10_240}),
    Row("bulk-idempotency-key-empty", "POST", "/v1/phone-numbers/bulk", bulk(),
        details="Idempotency-Key", headers={"Idempotency-Key": ""}),
    Row("bulk-idempotency-key-unicode", "POST", "/v1/phone-numbers/bulk", bulk(),
        details="Idempotency-Key", headers={"Idempotency-Key": "cl\u00e9"}),
    Row("bulk-no-scope", "POST", "/v1/phone-numbers/bulk", bulk(), 403, "FORBIDDEN",
        headers={"X-Test-Scopes": scopes.NUMBERS_READ}),
    Row("bulk-get-malformed-id", "GET", "/v1/phone-numbers/bulk/not-a-uuid", details="id",
        exists_path=f"/v1/phone-numbers/bulk/{UUID}"),
    Row("bulk-get-sql-id", "GET", "/v1/phone-numbers/bulk/1%27%20OR%201=1", details="id",
        exists_path=f"/v1/phone-numbers/bulk/{UUID}"),
    Row("bulk-get-unknown", "GET", f"/v1/phone-numbers/bulk/{UUID}", None, 404, "NOT_FOUND"),
    Row("bulk-list-cursor", "GET", "/v1/phone-numbers/bulk", details="cursor",
        query={"cursor": "A" * 100_000}),
    Row("bulk-list-limit", "GET", "/v1/phone-numbers/bulk", details="limit",
        query={"limit": "1000"}),
    *(Row(f"search-quantity-{name}", "POST", "/v1/phone-numbers/search",
          {"quantity": value}, details="quantity") for name, value in [*QUANTITIES,
                                                                         ("101", 101)]),
    *(Row(f"search-pattern-{name}", "POST", "/v1/phone-numbers/search", {"pattern": value},
          details="pattern") for name, value in BAD_DIGITS),
    *(Row(f"search-area-code-{name}", "POST", "/v1/phone-numbers/search",
          {"area_code": value}, details="area_code") for name, value in BAD_DIGITS),
    Row("search-pattern-11-digits", "POST", "/v1/phone-numbers/search",
        {"pattern": "12345678901"}, details="pattern"),
    Row("search-unknown-field", "POST", "/v1/phone-numbers/search", {"sql": SQL}, 400,
        "INVALID_INPUT", details="sql"),
    Row("search-nested", "POST", "/v1/phone-numbers/search", NESTED, 400, "INVALID_INPUT"),
    Row("search-10mb", "POST", "/v1/phone-numbers/search", "x" * TEN_MB, 413,
        "PAYLOAD_TOO_LARGE"),
    Row("orders-empty-list", "POST", "/v1/phone-numbers/orders", {"numbers": []},
        details="numbers"),
    Row("orders-not-a-list", "POST", "/v1/phone-numbers/orders", {"numbers": "+14155550100"},
        details="numbers"),
    Row("orders-full-width", "POST", "/v1/phone-numbers/orders",
        {"numbers": ["+1415555\uff10\uff11\uff10\uff10"]}, details="numbers"),
    Row("orders-10k-number", "POST", "/v1/phone-numbers/orders", {"numbers": ["+1" + LONG]},
        details="numbers"),
    Row("orders-sql-number", "POST", "/v1/phone-numbers/orders", {"numbers": [SQL]},
        details="numbers"),
    Row("orders-null-number", "POST", "/v1/phone-numbers/orders", {"numbers": [None]},
        details="numbers"),
    Row("orders-101-numbers", "POST", "/v1/phone-numbers/orders",
        {"numbers": [f"+1415555{n:04d}" for n in range(101)]}, details="numbers"),
    Row("orders-idempotency-key-10k", "POST", "/v1/phone-numbers/orders",
        {"numbers": ["+14155550100"]}, details="Idempotency-Key",
        headers={"Idempotency-Key": "k" * 10_240}),
    Row("numbers-list-cursor", "GET", "/v1/phone-numbers", details="cursor",
        query={"cursor": "\x00" * 600}),
    Row("numbers-list-limit", "GET", "/v1/phone-numbers", details="limit",
        query={"limit": "-5"}),
    Row("transactions-cursor", "GET", "/v1/billing/transactions", details="cursor",
        query={"cursor": "garbage"}),
    Row("release-malformed", "POST", "/v1/phone-numbers/bulk/release", {"ids": ["x"]},
        details="ids"),
    Row("release-not-a-list", "POST", "/v1/phone-numbers/bulk/release", {"ids": {"a": 1}},
        details="ids"),
]
# fmt: on


def route_exists(method: str, path: str) -> bool:
    try:
        match = resolve(path.split("?")[0])
    except Resolver404:
        return False
    view_class = getattr(match.func, "cls", None)
    if view_class is UnknownApiRoute:
        return False
    actions = getattr(match.func, "actions", None)
    if actions is not None:
        return method.lower() in actions or (method == "HEAD" and "get" in actions)
    return True


def encode(body) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    return json.dumps(body).encode()


@pytest.fixture
def organization():
    return make_org("Hostile Input Inc", credit_cents=10_000_000)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_it_answers_hostile_input_with_the_documented_error(row, organization):
    if row.needs_route and not route_exists(row.method, row.exists_path or row.path):
        pytest.skip("route not merged yet")
    key_scopes = row.headers.get("X-Test-Scopes", ",".join(scopes.ALL)).split(",")
    api = make_api(organization, key_scopes=key_scopes)
    headers = {name: value for name, value in row.headers.items() if name != "X-Test-Scopes"}
    if row.auth:
        headers.setdefault("Authorization", f"Bearer {api.secret}")
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    url = row.path + (f"?{urlencode(row.query)}" if row.query is not None else "")
    start = time.monotonic()
    response = Client().generic(
        row.method, url, data=encode(row.body), content_type=row.content_type, **extra
    )
    elapsed = time.monotonic() - start

    assert response.status_code == row.status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    assert len(response["X-Request-Id"]) == 26
    assert elapsed < MAX_SECONDS
    if row.method == "HEAD":
        assert response.content == b""
        return
    body = response.json()
    if row.code is None:
        assert body["success"] is True
        return
    assert body["success"] is False
    assert body["error"]["code"] == row.code
    assert body["error"]["request_id"] == response["X-Request-Id"]
    if row.details is not None:
        details = body["error"].get("details") or {}
        assert any(key == row.details or key.startswith(f"{row.details}.") for key in details), (
            details
        )


class CountingInput(io.BytesIO):
    """A wsgi.input that records how much of itself was read."""

    def __init__(self, size):
        super().__init__(b"x" * size)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size=-1):
        line = super().readline(size)
        self.bytes_read += len(line)
        return line


@pytest.mark.parametrize("path", ["/v1/test/probe", "/v1/billing/wallet", "/v1/nowhere"])
def test_it_refuses_an_oversize_body_without_reading_it(path, organization):
    api = make_api(organization)
    body = CountingInput(TEN_MB)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": body,
        "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(TEN_MB),
        "HTTP_AUTHORIZATION": f"Bearer {api.secret}",
    }
    statuses = []
    chunks = WSGIHandler()(environ, lambda status, headers: statuses.append(status))
    answer = json.loads(b"".join(chunks))

    assert [status.split()[0] for status in statuses] == ["413"]
    assert answer["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert body.bytes_read == 0
