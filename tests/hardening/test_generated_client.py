"""A client generated from the served /v1/openapi.json drives the main flow against a live server.

openapi-python-client turns the schema into a package; with `raise_on_unexpected_status=True` a
status the schema does not declare raises, and parsing a body raises on a missing required
field, an unknown enum value or an unparseable id or timestamp. On top of what the generated
parsers check, every parsed answer is walked against the generated type hints (a string where
the schema says integer, a null where it says never null) and against the declared fields (a
field the service sends but the schema does not name is a lie by omission).

Fulfilment of the backorder: a real Celery worker on PostgreSQL, so the client really sees the
order processing and polls it; on SQLite (whose test database is in this process's memory) the
tasks run eagerly in the live server's thread, after the commit, as on the broker path.
"""

import importlib
import subprocess
import sys
import types
import typing
import urllib.request
import uuid
from pathlib import Path

import attrs
import pytest
from django.conf import settings

from accounts import scopes
from accounts.services import api_key_create
from config.celery_app import app as celery_app
from tests.support.factories import make_numbers, make_org
from tests.support.processes import Worker, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("number_prices"),
]

PACKAGE = "amcore_generated_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
ROUTING = {
    "inbound_url": "https://customer.example/inbound",
    "status_url": "https://customer.example/status",
    "label": "generated-client",
}


# --- the generated package -------------------------------------------------------------------
def generate_client(schema_url: str, folder: Path) -> types.ModuleType:
    """Run the generator on the schema served at `schema_url` into `folder`; import the package.

    The schema is fetched here rather than by the generator (`--url`), whose 5 s timeout a
    loaded machine building the schema on its first request can exceed."""
    with urllib.request.urlopen(schema_url, timeout=60) as response:
        assert response.status == 200
        (folder / "openapi.json").write_bytes(response.read())
    config = folder / "generator.yaml"
    # No post hooks: formatting the generated code with ruff only costs time here.
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    result = subprocess.run(
        [
            str(GENERATOR), "generate", "--path", str(folder / "openapi.json"),
            "--config", str(config), "--meta", "none", "--output-path", str(folder / PACKAGE),
        ],
        capture_output=True, text=True, timeout=60, cwd=folder,
    )  # fmt: skip
    # A warning means a route or a schema the generator could not use: the client would
    # silently lack it.
    assert result.returncode == 0 and "Warning" not in result.stdout + result.stderr, (
        result.stdout + result.stderr
    )
    sys.path.insert(0, str(folder))
    return importlib.import_module(PACKAGE)


@pytest.fixture(scope="module")
def generated(live_server, tmp_path_factory, django_db_blocker):
    """(the generated package, a function importing one of its modules), once per module."""
    folder = tmp_path_factory.mktemp("generated-client")
    # Serving the schema reads no row, but the request's database connection is checked at
    # its end, outside any test's database access.
    with django_db_blocker.unblock():
        package = generate_client(f"{live_server.url}/v1/openapi.json", folder)

    def module(name):
        return importlib.import_module(f"{PACKAGE}.{name}")

    yield package, module
    sys.path.remove(str(folder))
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


# --- what the generated parsers do not check ------------------------------------------------
def schema_lies(value, hint, *, where: str, namespace: dict) -> list[str]:
    """How `value` (a parsed answer) disagrees with the generated type `hint`, recursively."""
    if hint is typing.Any:
        return []
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [schema_lies(value, arg, where=where, namespace=namespace) for arg in
                   typing.get_args(hint)]  # fmt: skip
        if any(not lies for lies in options):
            return []
        return [f"{where}: {value!r} is none of {hint}"] + min(options, key=len)
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a list"]
        (item_hint,) = typing.get_args(hint)
        return [
            lie
            for index, item in enumerate(value)
            for lie in schema_lies(item, item_hint, where=f"{where}[{index}]", namespace=namespace)
        ]
    if origin is dict:
        return [] if isinstance(value, dict) else [f"{where}: {value!r} is not an object"]
    if hint is type(None):
        return [] if value is None else [f"{where}: {value!r} is not null"]
    if attrs.has(hint):
        if not isinstance(value, hint):
            return [f"{where}: {value!r} is not a {hint.__name__}"]
        # The module's own names, plus the models it imports only for type checkers.
        module_names = {**namespace, **vars(sys.modules[hint.__module__])}
        hints = typing.get_type_hints(hint, globalns=module_names)
        declared = [f.name for f in attrs.fields(hint) if f.name != "additional_properties"]
        lies = []
        if declared and value.additional_properties:
            # An object with named fields that answered more: the schema does not tell them.
            lies.append(f"{where}: undeclared fields {sorted(value.additional_properties)}")
        for name in declared:
            lies += schema_lies(
                getattr(value, name), hints[name], where=f"{where}.{name}", namespace=namespace
            )
        return lies
    if hint is int and isinstance(value, bool):
        return [f"{where}: {value!r} is a boolean, not an integer"]
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return []
    return [] if isinstance(value, hint) else [f"{where}: {value!r} is not a {hint.__name__}"]


class Caller:
    """Calls one generated endpoint module and checks the answer against the schema."""

    def __init__(self, module, client):
        self.client = client
        self.module = module
        self.namespace = vars(module("models"))

    def __call__(self, endpoint: str, expected_status: int, *args, **kwargs):
        response = self.module(f"api.{endpoint}").sync_detailed(*args, client=self.client, **kwargs)
        assert response.status_code == expected_status, (endpoint, response.content)
        assert len(response.headers["X-Request-Id"]) == 26  # declared on every answer
        parsed = response.parsed
        assert parsed is not None, f"{endpoint}: {expected_status} is declared without a body"
        lies = schema_lies(parsed, type(parsed), where=endpoint, namespace=self.namespace)
        assert not lies, "\n".join(lies)
        return response


@pytest.fixture
def fulfilment(settings):
    """Something that fulfils backorders: a worker process (PostgreSQL) or eager tasks."""
    settings.SIMULATED_CARRIER_FAILURE_RATE = 0
    settings.SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES = []
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True  # the receiver is on loopback
    if settings.IS_POSTGRES:
        worker = Worker(
            SIMULATED_CARRIER_DELAY_SECONDS=1,
            SIMULATED_CARRIER_FAILURE_RATE=0,
            WEBHOOKS_ALLOW_PRIVATE_TARGETS=1,
        )
        yield worker
        worker.stop()
        return
    settings.SIMULATED_CARRIER_DELAY_SECONDS = 0
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield None
    celery_app.conf.task_always_eager = previous


def wait_until(call, done, *, timeout, what, worker=None):
    """The first answer of `call()` that is `done`, polled with tests.support.processes.wait_for."""

    def answered():
        response = call()
        return (response,) if done(response) else None

    (response,) = wait_for(
        answered, timeout=timeout, what=what, processes=[worker] if worker else []
    )
    return response


@pytest.fixture
def caller_for(live_server, generated):
    """caller_for(credit_cents=..., key_scopes=...): a Caller speaking as a new organization."""
    package, module = generated
    clients = []

    def caller_for(*, credit_cents=100_000, key_scopes=scopes.ALL, secret=None):
        if secret is None:
            org = make_org(f"Generated Client {len(clients)}", credit_cents=credit_cents)
            _, secret = api_key_create(organization=org, scopes=key_scopes, label="generated")
        client = package.AuthenticatedClient(
            base_url=live_server.url, token=secret, raise_on_unexpected_status=True, timeout=30
        )
        clients.append(client)
        return Caller(module, client)

    yield caller_for
    # Closed before the live server's request thread outlives the test's database connection.
    for client in clients:
        client.get_httpx_client().close()


@pytest.fixture
def call(caller_for):
    """A Caller speaking as an organization with 1,000 dollars and a key with every scope."""
    return caller_for()


def test_a_generated_client_drives_the_main_flow(fulfilment, receiver, call, generated):
    models = generated[1]("models")
    make_numbers(4, area_code="415")

    wallet = call("billing.billing_wallet_retrieve", 200).parsed.data
    assert (wallet.balance_cents, wallet.held_cents, wallet.available_cents) == (
        100_000,
        0,
        100_000,
    )

    found = call(
        "phone_numbers.phone_numbers_search_create",
        200,
        body=models.SearchInputRequest(area_code="415", quantity=5),
    ).parsed.data
    assert sorted(n.number for n in found) == [f"+1415555700{i}" for i in (1, 2, 3, 4)]

    listed = call(
        "phone_numbers.phone_numbers_orders_create",
        200,
        body=models.ListedOrderInputRequest(numbers=["+14155557004"], **ROUTING),
        idempotency_key="generated-client-listed",
    ).parsed.data
    assert [(n.number, n.label) for n in listed] == [("+14155557004", "generated-client")]

    endpoint = call(
        "webhooks.webhooks_create",
        201,
        body=models.WebhookEndpointCreateInputRequest(
            url=receiver.url(),
            events=[models.EventsEnum("phone_number.bulk_order.completed")],
            description="generated client",
        ),
        idempotency_key="generated-client-webhook",
    ).parsed.data
    assert endpoint.secret and endpoint.url == receiver.url()

    # 200: inventory holds 3 more numbers in 415.
    filled = call(
        "phone_numbers.phone_numbers_bulk_create",
        200,
        body=models.BulkOrderInputRequest(quantity=3, area_code="415", **ROUTING),
        idempotency_key="generated-client-filled",
    )
    assert (filled.parsed.data.status.value, filled.parsed.data.assigned_count) == ("complete", 3)
    assert filled.parsed.data.order_id is None
    replayed = call(
        "phone_numbers.phone_numbers_bulk_create",
        200,
        body=models.BulkOrderInputRequest(quantity=3, area_code="415", **ROUTING),
        idempotency_key="generated-client-filled",
    )
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.content == filled.content

    # 202: nothing in 312, the carrier supplies it.
    accepted = call(
        "phone_numbers.phone_numbers_bulk_create",
        202,
        body=models.BulkOrderInputRequest(quantity=2, area_code="312"),  # no routing: nulls
    )
    order_id = accepted.parsed.data.order_id
    assert accepted.parsed.data.status.value == "processing"
    assert accepted.headers["Location"] == f"/v1/phone-numbers/bulk/{order_id}"

    seen = []
    finished = wait_until(
        lambda: call("phone_numbers.phone_numbers_bulk_retrieve", 200, order_id),
        lambda response: (
            seen.append(response.parsed.data.status.value)
            or response.parsed.data.status.value != "processing"
        ),
        timeout=30,
        what="the backorder to end",
        worker=fulfilment,
    ).parsed.data
    assert (finished.status.value, finished.assigned_count, finished.failed_count) == (
        "complete",
        2,
        None,
    )
    assert finished.label is None and finished.completed_at is not None
    if fulfilment is not None:  # a worker: the client saw it processing first
        assert seen[0] == "processing", seen

    orders = call("phone_numbers.phone_numbers_bulk_list", 200).parsed
    assert [o.order_id for o in orders.data] == [order_id]

    numbers = call("phone_numbers.phone_numbers_list", 200, limit=100).parsed
    assert len(numbers.data) == 6 and numbers.meta.next_cursor is None
    first, second, third = (n.id for n in numbers.data[:3])

    patched = call(
        "phone_numbers.phone_numbers_partial_update",
        200,
        first,
        body=models.PatchedRoutingUpdateInputRequest(label="renamed", inbound_url=""),
    ).parsed.data
    assert (patched.label, patched.inbound_url) == ("renamed", None)
    assert call("phone_numbers.phone_numbers_retrieve", 200, first).parsed.data.label == "renamed"

    released = call("phone_numbers.phone_numbers_destroy", 200, first).parsed.data
    assert released.status == "released"
    gone = call("phone_numbers.phone_numbers_retrieve", 404, first).parsed
    assert gone.error.code == "NOT_FOUND"

    stranger = uuid.uuid4()
    outcome = call(
        "phone_numbers.phone_numbers_bulk_release_create",
        200,
        body=models.BulkReleaseInputRequest(ids=[first, second, third, stranger]),
    ).parsed.data
    assert (outcome.released, outcome.unknown, outcome.already_released) == (
        [second, third],
        [stranger],
        [first],
    )

    ledger = call("billing.billing_transactions_list", 200, limit=100).parsed.data
    assert sum(entry.amount_cents for entry in ledger) == 100_000 - 6 * 100

    assert [e.id for e in call("webhooks.webhooks_list", 200).parsed.data] == [endpoint.id]
    assert call("webhooks.webhooks_retrieve", 200, endpoint.id).parsed.data.url == receiver.url()
    deliveries = wait_until(
        lambda: call("webhooks.webhooks_deliveries_list", 200, endpoint_id=endpoint.id),
        lambda response: [d.status for d in response.parsed.data] == ["delivered"],
        timeout=30,
        what="the completion webhook to be delivered",
        worker=fulfilment,
    ).parsed.data
    assert deliveries[0].event_type == "phone_number.bulk_order.completed"
    assert [a.status_code for a in deliveries[0].attempts] == [200]
    deleted = call("webhooks.webhooks_destroy", 200, endpoint.id).parsed.data
    assert (deleted.id, deleted.status) == (endpoint.id, "deleted")

    invalid = call(
        "phone_numbers.phone_numbers_bulk_create",
        422,
        body=models.BulkOrderInputRequest(quantity=0),
    ).parsed
    assert (invalid.success, invalid.error.code) == (False, "VALIDATION_FAILED")
    assert invalid.error.details.additional_properties == {
        "quantity": f"must be an integer from 1 to {settings.BULK_ORDER_MAX_QUANTITY}"
    }
    assert len(invalid.error.request_id) == 26


def test_a_generated_client_parses_the_errors_it_is_told_about(settings, caller_for, generated):
    """Each declared error status, answered for real, parses as the error envelope."""
    models = generated[1]("models")
    settings.SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES = ["212"]
    make_numbers(1, area_code="415")
    call = caller_for(key_scopes=[s for s in scopes.ALL if s != scopes.PLATFORM_INVENTORY_WRITE])

    def error(endpoint, status, *args, **kwargs):
        envelope = call(endpoint, status, *args, **kwargs).parsed
        assert envelope.success is False and len(envelope.error.request_id) == 26
        details = envelope.error.details
        return envelope.error.code, (details.additional_properties if details else None)

    bulk = "phone_numbers.phone_numbers_bulk_create"
    assert error(bulk, 409, body=models.BulkOrderInputRequest(quantity=3, area_code="212")) == (
        "INSUFFICIENT_INVENTORY",
        {"available_count": 0},
    )
    poor = caller_for(credit_cents=50)
    envelope = poor(bulk, 402, body=models.BulkOrderInputRequest(quantity=1)).parsed
    assert (envelope.error.code, envelope.error.details.additional_properties) == (
        "INSUFFICIENT_CREDIT",
        {"required_cents": 100, "available_cents": 50},
    )
    # (400 for an unknown field cannot be sent: the schema says additionalProperties: false, so
    # the generated request models have no room for one.)

    taken = models.ListedOrderInputRequest(numbers=["+14155557001", "+14155550999"])
    code, details = error("phone_numbers.phone_numbers_orders_create", 409, body=taken)
    assert (code, details["unavailable_numbers"]) == ("INSUFFICIENT_INVENTORY", ["+14155550999"])

    body = models.BulkOrderInputRequest(quantity=1, area_code="415")
    call(bulk, 200, body=body, idempotency_key="used-once")
    code, _ = error(
        bulk, 422, body=models.BulkOrderInputRequest(quantity=2), idempotency_key="used-once"
    )
    assert code == "IDEMPOTENCY_KEY_REUSED"

    (owned,) = call("phone_numbers.phone_numbers_list", 200).parsed.data
    destroy = "phone_numbers.phone_numbers_destroy"
    assert error(destroy, 403, owned.id, return_to_carrier=True)[0] == "FORBIDDEN"
    assert error("phone_numbers.phone_numbers_bulk_retrieve", 404, uuid.uuid4())[0] == "NOT_FOUND"
    code, details = error("phone_numbers.phone_numbers_list", 422, cursor="not-a-cursor")
    assert (code, list(details)) == ("VALIDATION_FAILED", ["cursor"])
    code, details = error(
        "webhooks.webhooks_create",
        422,
        body=models.WebhookEndpointCreateInputRequest(url="ftp://example.com/hook", events=[]),
    )
    assert code == "VALIDATION_FAILED" and {"url", "events"} <= set(details)

    stranger = caller_for(secret="am_live_" + "x" * 40)
    assert stranger("billing.billing_wallet_retrieve", 401).parsed.error.code == "UNAUTHORIZED"
