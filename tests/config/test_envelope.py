"""API.md §1: every /v1/ answer is the envelope with X-Request-Id, whatever went wrong."""

import re

import pytest
from django.urls import get_resolver

from accounts import scopes
from tests.config.urls import INTERNAL_DETAIL
from tests.support.factories import make_api

ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")

pytestmark = pytest.mark.urls("tests.config.urls")


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    request_id = response["X-Request-Id"]
    assert ULID.fullmatch(request_id)
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == request_id
    assert set(body) == {"success", "error"}
    return body["error"]


def test_it_answers_success_in_the_envelope_with_a_request_id(alice):
    response = alice.post("/v1/test/echo", {"quantity": 5})

    assert response.status_code == 201
    assert response.json() == {"success": True, "data": {"quantity": 5}}
    assert ULID.fullmatch(response["X-Request-Id"])


def test_it_gives_every_response_a_fresh_request_id(alice):
    first = alice.get("/v1/billing/wallet")["X-Request-Id"]
    second = alice.get("/v1/billing/wallet")["X-Request-Id"]

    assert first != second


@pytest.mark.parametrize(
    "raw",
    ["{not json", "[1, 2]", '"a string"', "42", "null", "", '{"quantity": NaN}', "\xff\xfe"],
)
def test_it_refuses_a_body_that_is_not_a_json_object_with_400(alice, raw):
    response = alice.client.post(
        "/v1/test/echo", data=raw.encode("latin-1"), content_type="application/json"
    )

    assert_error(response, 400, "INVALID_INPUT")


def test_it_refuses_unknown_fields_with_400_naming_them(alice):
    response = alice.post("/v1/test/echo", {"quantity": 1, "colour": "red"})

    error = assert_error(response, 400, "INVALID_INPUT")
    assert error["details"] == {"colour": "unknown field"}


def test_it_answers_422_with_a_flat_details_map(alice):
    response = alice.post("/v1/test/echo", {"quantity": "5"})

    error = assert_error(response, 422, "VALIDATION_FAILED")
    assert error["message"] == "validation failed"
    assert error["details"] == {"quantity": "must be an integer from 1 to 1000"}


def test_it_answers_404_for_an_unknown_v1_path_with_any_method(alice, anonymous):
    for client in (alice, anonymous):
        for method in ("get", "post", "patch", "delete"):
            response = getattr(client, method)("/v1/no/such/route")
            assert_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("path", ["/v1/billing/wallet", "/v1/test/echo"])
@pytest.mark.parametrize("method", ["post", "patch", "put", "delete", "get", "options"])
def test_it_answers_405_for_a_wrong_method_with_or_without_a_key(alice, anonymous, path, method):
    served = {"/v1/billing/wallet": "get", "/v1/test/echo": "post"}[path]
    if method == served:
        return
    for client in (alice, anonymous):
        response = getattr(client.client, method)(path)
        assert_error(response, 405, "METHOD_NOT_ALLOWED")


def test_it_answers_head_like_get(alice):
    response = alice.client.head("/v1/billing/wallet")

    assert response.status_code == 200
    assert ULID.fullmatch(response["X-Request-Id"])


def test_it_refuses_a_body_over_1_mib_with_413(alice):
    body = b'{"quantity": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}'

    response = alice.client.post("/v1/test/echo", data=body, content_type="application/json")

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_it_refuses_a_body_over_1_mib_that_lies_about_its_length(alice):
    body = b'{"quantity": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}'

    response = alice.client.post(
        "/v1/test/echo", data=body, content_type="application/json", CONTENT_LENGTH="20"
    )

    # The parser reads at most 1 MiB + 1 byte of what the client says is 20: it sees a short,
    # broken body. Either way the body is never read whole, and the answer is the envelope.
    assert response.status_code in (400, 413)
    assert response.json()["success"] is False


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_it_refuses_a_body_that_is_not_json_with_415(alice, content_type):
    response = alice.client.post("/v1/test/echo", data="quantity=1", content_type=content_type)

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_it_answers_500_without_leaking_anything_internal(alice):
    response = alice.get("/v1/test/boom")

    error = assert_error(response, 500, "INTERNAL_ERROR")
    assert error["message"] == "internal error"
    assert "details" not in error
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


def test_it_answers_500_in_the_envelope_for_a_failure_outside_drf(alice):
    alice.client.raise_request_exception = False

    response = alice.get("/v1/test/plain-boom")

    error = assert_error(response, 500, "INTERNAL_ERROR")
    assert error["message"] == "internal error"
    assert INTERNAL_DETAIL not in response.content.decode()


def test_it_answers_500_for_a_view_that_declares_no_scope_rather_than_serving_it(alice):
    response = alice.get("/v1/test/no-scope")

    assert_error(response, 500, "INTERNAL_ERROR")


def test_it_answers_503_with_retry_after_when_the_database_is_down(alice):
    response = alice.get("/v1/test/database-down")

    error = assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response["Retry-After"]) > 0
    assert "hunter2" not in response.content.decode()
    assert "details" not in error


def test_it_answers_401_before_validating_the_body(anonymous):
    response = anonymous.post("/v1/test/echo", {"colour": "red"})

    assert_error(response, 401, "UNAUTHORIZED")


def test_it_answers_403_before_validating_the_body(alice_org):
    api = make_api(alice_org, key_scopes=[scopes.BILLING_READ])

    response = api.post("/v1/test/echo", {"colour": "red"})

    assert_error(response, 403, "FORBIDDEN")


def test_every_v1_route_is_checked_by_a_scope(alice):
    """Every real /v1/ route answers a keyless request with 401 or 405, never with data."""
    from config import urls

    resolver = get_resolver(urls)
    api_prefix = next(p for p in resolver.url_patterns if str(p.pattern) == "v1/")
    for pattern in api_prefix.url_patterns:
        for route in getattr(pattern, "url_patterns", [pattern]):
            route_text = str(route.pattern)
            if "<" in route_text or "^" in route_text:
                continue
            response = alice.__class__().get("/v1/" + route_text)
            assert response.status_code in (401, 405), route_text


def test_it_answers_json_whatever_the_accept_header_asks_for(alice):
    response = alice.get("/v1/billing/wallet", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["success"] is True


def test_it_answers_404_in_the_envelope_for_a_non_drf_v1_path(anonymous):
    response = anonymous.get("/v1")

    # /v1 redirects to /v1/ (APPEND_SLASH), which is an unknown /v1/ path.
    if response.status_code == 301:
        response = anonymous.get(response["Location"])
    assert_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize("path", ["/v1/test/things", "/v1/test/things/42"])
def test_it_answers_405_on_a_viewset_route_with_or_without_a_key(alice, anonymous, path, method):
    for client in (alice, anonymous):
        response = getattr(client.client, method)(path)
        assert_error(response, 405, "METHOD_NOT_ALLOWED")


def test_a_viewset_route_serves_get_and_head_with_its_scope(alice, alice_org):
    assert alice.get("/v1/test/things/42").json() == {"success": True, "data": {"id": "42"}}
    assert alice.client.head("/v1/test/things").status_code == 200
    no_scope = make_api(alice_org, key_scopes=[scopes.BILLING_READ])
    assert_error(no_scope.get("/v1/test/things"), 403, "FORBIDDEN")
