"""What the logs say about a request or task: who it was for (organization, key prefix, never
the key), where it came from, which route, how it ended, and a failure once with its
traceback."""

import pytest

from tests.support.logs import capture_json_lines

BOOM = "/v1/test/boom"


@pytest.fixture
def log_lines():
    yield from capture_json_lines(None)


def request_lines(lines):
    return [line for line in lines if line.get("event") == "request"]


def test_the_request_line_says_who_where_which_route_and_how_it_ended(alice, alice_org, log_lines):
    response = alice.get("/v1/phone-numbers/3f1d0c58-52a6-4d4a-9a43-6a0e4c1b2d3e")

    [line] = request_lines(log_lines())
    assert response.status_code == 404
    assert line["organization_id"] == str(alice_org.id)
    assert line["key_prefix"] == alice.secret[:12]
    assert alice.secret not in str(log_lines())
    assert line["client_ip"] == "127.0.0.1"
    assert line["route"] == "/v1/phone-numbers/<str:id>"
    assert line["path"] == "/v1/phone-numbers/3f1d0c58-52a6-4d4a-9a43-6a0e4c1b2d3e"
    assert line["status"] == 404
    assert line["duration_ms"] >= 0
    assert line["request_id"] == response["X-Request-Id"]


def test_a_request_without_a_key_has_no_organization(client, db, log_lines):
    client.get("/healthz")

    [line] = request_lines(log_lines())
    assert "organization_id" not in line and "key_prefix" not in line
    assert line["route"] == "/healthz"


def test_x_forwarded_for_is_ignored_unless_trusted(client, db, log_lines, settings):
    client.get("/healthz", HTTP_X_FORWARDED_FOR="6.6.6.6")
    settings.TRUST_X_FORWARDED_FOR = True
    # The proxy appends the address it saw; what comes before is the client's own claim.
    client.get("/healthz", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")

    first, second = request_lines(log_lines())
    assert first["client_ip"] == "127.0.0.1"
    assert second["client_ip"] == "203.0.113.7"


@pytest.mark.urls("tests.config.urls")
@pytest.mark.parametrize("path", [BOOM, "/v1/test/plain-boom"])
def test_an_unhandled_exception_is_logged_once_with_its_traceback_and_request_id(
    path, alice, log_lines
):
    alice.client.raise_request_exception = False
    response = alice.get(path)

    lines = log_lines()
    errors = [line for line in lines if line["level"] in ("error", "critical")]
    assert response.status_code == 500
    assert len(errors) == 1, errors
    assert "Traceback" in errors[0]["exception"] and "RuntimeError" in errors[0]["exception"]
    assert errors[0]["request_id"] == response["X-Request-Id"]
    assert request_lines(lines)[0]["status"] == 500
