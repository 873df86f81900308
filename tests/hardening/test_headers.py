"""Cache-Control on the API, the CSP of HTML pages, and the schema built once per process."""

import time

import pytest

from config import schema_views


def test_every_v1_answer_says_no_store(alice, anonymous):
    for response in (
        alice.get("/v1/billing/wallet"),
        anonymous.get("/v1/billing/wallet"),
        alice.get("/v1/no-such-route"),
        alice.post("/v1/billing/wallet", {}),
        anonymous.get("/v1/openapi.json"),
    ):
        assert response["Cache-Control"] == "no-store", response.status_code


def test_the_docs_page_and_the_admin_carry_a_csp_without_inline_scripts(client, db):
    for path in ("/docs/", "/admin/login/"):
        response = client.get(path)
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
        assert b"<script>" not in response.content  # the docs' start-up script is external


def test_json_answers_carry_a_csp_that_allows_nothing(alice):
    response = alice.get("/v1/billing/wallet")

    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.django_db
def test_the_schema_is_built_once_per_process(client):
    schema_views._rendered.clear()
    started = time.perf_counter()
    first = client.get("/v1/openapi.json")
    first_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    second = client.get("/v1/openapi.json")
    second_ms = (time.perf_counter() - started) * 1000

    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert len(schema_views._rendered) == 1
    assert second_ms < first_ms
