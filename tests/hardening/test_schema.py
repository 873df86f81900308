"""The OpenAPI schema: committed copy up to date, served without a key, docs page self-contained,
and the conventions of API.md §1 applied to every operation (tested on the test-only routes)."""

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from orders.openapi import BULK_BACKORDERED_EXAMPLE, BULK_FILLED_EXAMPLE

COMMITTED = Path(settings.BASE_DIR) / "docs" / "openapi.json"
GENERIC = {"400", "401", "403", "405", "500", "503"}


def generated_schema(urlconf=None) -> dict:
    return json.loads(json.dumps(SchemaGenerator(urlconf=urlconf).get_schema(public=True)))


def examples(response) -> dict:
    return response["content"]["application/json"]["examples"]


def test_it_matches_the_committed_schema():
    out = StringIO()
    call_command("spectacular", "--format", "openapi-json", "--validate", stdout=out)

    assert json.loads(out.getvalue()) == json.loads(COMMITTED.read_text()), (
        "docs/openapi.json is stale: run `make schema` and commit it"
    )


def test_it_serves_the_schema_without_a_key(client):
    response = client.get("/v1/openapi.json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert json.loads(response.content) == json.loads(COMMITTED.read_text())


def test_it_serves_a_docs_page_that_needs_no_internet(client):
    response = client.get("/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert not re.search(r"""(src|href)=["']https?://""", html)
    # The start-up script is served apart (the page's CSP allows no inline script).
    script = client.get("/docs/?script=")
    assert script.status_code == 200
    assert "/v1/openapi.json" in script.content.decode()


def test_it_wraps_a_write_route_in_the_envelope_with_every_generic_error():
    operation = generated_schema("tests.hardening.urls")["paths"]["/v1/test/probe"]["post"]
    responses = operation["responses"]

    ok_schema = responses["200"]["content"]["application/json"]["schema"]
    assert ok_schema["required"] == ["success", "data"]
    assert ok_schema["properties"]["data"] == {"$ref": "#/components/schemas/ProbeOutput"}
    assert set(responses) == {"200", "413", "415", "422", "429"} | GENERIC
    for status, response in responses.items():
        assert response["headers"]["X-Request-Id"] == {"$ref": "#/components/headers/X-Request-Id"}
        if status >= "400":
            assert response["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorEnvelope"
            }
            (example,) = examples(response).values()
            assert example["value"]["success"] is False
    assert examples(responses["422"])["VALIDATION_FAILED"]["value"]["error"]["details"] == {
        "quantity": "is not valid"
    }
    assert "Retry-After" in responses["429"]["headers"]
    assert "Retry-After" in responses["503"]["headers"]
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert operation["x-required-scope"] == "numbers:write"
    assert "Requires the `numbers:write` scope." in operation["description"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ProbeInputRequest"
    }
    assert operation["requestBody"]["required"] is True  # no body at all is a 400
    assert "Idempotency-Key" not in json.dumps(operation.get("parameters", []))


def test_no_operation_shows_a_docstring_of_our_base_classes():
    """A view without a docstring of its own used to show its mixin's (internal notes on
    IdempotentCreateMixin) as the description of every route."""
    from api.schema import doc_excludes

    ours = [cls for cls in doc_excludes() if cls.__module__.startswith("api.")]
    first_lines = [cls.__doc__.strip().splitlines()[0] for cls in ours]
    descriptions = [
        operation.get("description", "")
        for operations in json.loads(COMMITTED.read_text())["paths"].values()
        for operation in operations.values()
    ]

    assert len(ours) == 4
    assert [line for line in first_lines for text in descriptions if line in text] == []


def test_it_documents_the_idempotency_key_header_on_exactly_the_posts_that_honour_it():
    """API.md §4: every POST that creates something (an order, a reservation, an endpoint, a
    key, a secret, a delivery); not those that change or read (cancel, extend, quote, search,
    release)."""
    paths = json.loads(COMMITTED.read_text())["paths"]
    honoured = {
        path
        for path, operations in paths.items()
        if "post" in operations
        and any(p["name"] == "Idempotency-Key" for p in operations["post"].get("parameters", []))
    }

    assert honoured == {
        "/v1/api-keys",
        "/v1/api-keys/{id}/rotate",
        "/v1/phone-numbers/bulk",
        "/v1/phone-numbers/orders",
        "/v1/phone-numbers/reservations",
        "/v1/webhooks",
        "/v1/webhooks/deliveries/{id}/replay",
        "/v1/webhooks/{id}/rotate-secret",
        "/v1/webhooks/{id}/test",
    }


def test_it_states_the_contract_field_rules_on_request_bodies():
    schemas = generated_schema("tests.hardening.urls")["components"]["schemas"]
    probe = schemas["ProbeInputRequest"]

    assert probe["additionalProperties"] is False
    assert probe["properties"]["inbound_url"]["oneOf"][0]["pattern"] == "^https://"  # or ""
    assert probe["properties"]["pattern"]["pattern"] == "^[0-9A-Za-z]{1,10}$"


def test_it_documents_lists_and_details():
    paths = generated_schema("tests.hardening.urls")["paths"]
    listing = paths["/v1/test/numbers"]["get"]["responses"]
    detail = paths["/v1/test/numbers/{id}"]["get"]["responses"]

    assert listing["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedNumberOutList"
    }
    assert set(listing) == {"200", "422"} | GENERIC
    assert set(detail) == {"200", "404", "422"} | GENERIC
    details = examples(listing["422"])["VALIDATION_FAILED"]["value"]["error"]["details"]
    assert list(details) == ["cursor"]


def test_it_declares_the_shared_components():
    components = generated_schema()["components"]

    assert components["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert components["schemas"]["ErrorEnvelope"]["required"] == ["success", "error"]
    assert set(components["headers"]) >= {"X-Request-Id", "Retry-After", "Location"}


def test_it_leaves_out_the_catch_all_and_the_schema_route():
    paths = generated_schema()["paths"]

    assert all(path.startswith("/v1/") for path in paths)
    assert "/v1/openapi.json" not in paths
    assert not any("{" in path and "}" not in path for path in paths)


def test_it_shows_the_product_page_examples_on_the_bulk_route():
    operation = generated_schema()["paths"]["/v1/phone-numbers/bulk"]["post"]
    responses = operation["responses"]

    assert examples(responses["200"])["Filled"]["value"] == BULK_FILLED_EXAMPLE
    assert examples(responses["202"])["Backordered"]["value"] == BULK_BACKORDERED_EXAMPLE
    assert responses["202"]["headers"]["Location"] == {"$ref": "#/components/headers/Location"}
    assert "Idempotent-Replayed" in responses["200"]["headers"]
    assert examples(responses["402"])["INSUFFICIENT_CREDIT"]["value"]["error"]["details"] == {
        "required_cents": 10_000,
        "available_cents": 2_500,
    }
    assert set(examples(responses["409"])) == {"INSUFFICIENT_INVENTORY", "IDEMPOTENCY_KEY_IN_USE"}
    assert set(examples(responses["422"])) == {
        "VALIDATION_FAILED",
        "Mode",
        "FillBy",
        "IDEMPOTENCY_KEY_REUSED",
    }
    assert set(responses) == {"200", "202", "402", "409", "413", "415", "422", "429"} | GENERIC
    (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["in"] == "header"
    assert header["schema"]["maxLength"] == 255
    assert operation["x-required-scope"] == "numbers:write"
    request_example = operation["requestBody"]["content"]["application/json"]["examples"]
    assert request_example["Order"]["value"]["quantity"] == 100


def test_it_renders_rate_limit_and_idempotency_errors_like_the_examples(client):
    """The documented examples are what the error classes render."""
    from api.errors import RateLimited, error_body

    body = error_body(RateLimited(retry_after=3))

    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["message"] == "rate limit exceeded"


pytestmark = pytest.mark.django_db
