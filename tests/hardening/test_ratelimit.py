"""The per-organization write rate limit (API.md §1, api.ratelimit), in one process. The
multi-process test is test_ratelimit_concurrency.py."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api import ratelimit
from tests.support.factories import make_api, make_org

pytestmark = [pytest.mark.urls("tests.hardening.urls"), pytest.mark.django_db]

BODY = {"quantity": 1}


@pytest.fixture
def limit_of_3(settings):
    settings.RATE_LIMIT_WRITES_PER_MINUTE = 3
    settings.RATE_LIMIT_WINDOW_SECONDS = 60


def test_it_answers_429_with_retry_after_over_the_limit(alice, limit_of_3):
    statuses = [alice.post("/v1/test/probe", BODY).status_code for _ in range(3)]

    response = alice.post("/v1/test/probe", BODY)

    assert statuses == [200, 200, 200]
    assert response.status_code == 429
    assert response.json()["error"] == {
        "code": "RATE_LIMITED",
        "message": "rate limit exceeded",
        "request_id": response["X-Request-Id"],
    }
    assert 1 <= int(response["Retry-After"]) <= 60


def test_it_answers_retry_after_in_whole_seconds_to_the_end_of_the_window(
    alice, limit_of_3, monkeypatch
):
    monkeypatch.setattr(ratelimit.time, "time", lambda: 60 * 1_000_000 + 45.2)
    for _ in range(3):
        alice.post("/v1/test/probe", BODY)

    response = alice.post("/v1/test/probe", BODY)

    assert response.status_code == 429
    assert response["Retry-After"] == "15"


def test_it_starts_afresh_in_the_next_window(alice, limit_of_3, monkeypatch):
    now = [60 * 1_000_000 + 59.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    for _ in range(4):
        alice.post("/v1/test/probe", BODY)

    now[0] += 1.5
    response = alice.post("/v1/test/probe", BODY)

    assert response.status_code == 200


def test_it_counts_each_organization_on_its_own(alice, bob, limit_of_3):
    for _ in range(4):
        alice.post("/v1/test/probe", BODY)

    assert bob.post("/v1/test/probe", BODY).status_code == 200


def test_it_shares_the_counter_between_keys_of_one_organization(alice_org, limit_of_3):
    first, second = make_api(alice_org), make_api(alice_org)
    for _ in range(3):
        first.post("/v1/test/probe", BODY)

    assert second.post("/v1/test/probe", BODY).status_code == 429


def test_it_does_not_limit_reads(alice, limit_of_3):
    for _ in range(3):
        alice.post("/v1/test/probe", BODY)

    statuses = {alice.get("/v1/billing/wallet").status_code for _ in range(5)}

    assert statuses == {200}


def test_it_does_not_count_requests_without_a_valid_key(anonymous, alice, limit_of_3):
    for _ in range(5):
        assert anonymous.post("/v1/test/probe", BODY).status_code == 401

    assert alice.post("/v1/test/probe", BODY).status_code == 200


def test_it_is_off_at_zero(alice, settings):
    settings.RATE_LIMIT_WRITES_PER_MINUTE = 0

    statuses = {alice.post("/v1/test/probe", BODY).status_code for _ in range(20)}

    assert statuses == {200}


def test_it_writes_nothing_to_the_database_when_refusing(alice, limit_of_3):
    for _ in range(3):
        alice.post("/v1/test/probe", BODY)

    with CaptureQueriesContext(connection) as queries:
        response = alice.post("/v1/test/probe", BODY)

    assert response.status_code == 429
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []
    assert len(queries) <= 1  # the key lookup of authentication


def test_it_lets_requests_through_when_the_cache_is_down(alice, limit_of_3, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(ratelimit.cache, "add", broken)

    statuses = {alice.post("/v1/test/probe", BODY).status_code for _ in range(5)}

    assert statuses == {200}


def test_it_keeps_counting_when_the_key_expires_between_add_and_incr(monkeypatch):
    monkeypatch.setattr(ratelimit.cache, "add", lambda *args, **kwargs: False)

    def expired(key):
        raise ValueError(key)

    monkeypatch.setattr(ratelimit.cache, "incr", expired)

    assert ratelimit.hit_counter("k", ttl=5) == 1


def test_it_counts_with_the_embedded_file_cache(alice, limit_of_3, settings, tmp_path):
    from django.core.cache import caches
    from django.core.cache.backends.filebased import FileBasedCache

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        }
    }
    # api.ratelimit.cache is Django's proxy to caches["default"]: now the file cache.
    statuses = [alice.post("/v1/test/probe", BODY).status_code for _ in range(4)]

    assert isinstance(caches["default"], FileBasedCache)
    assert list(tmp_path.iterdir())  # the counter is a file there
    assert statuses == [200, 200, 200, 429]


def test_it_makes_a_new_organization_a_new_counter(limit_of_3):
    api = make_api(make_org("Fresh"))

    assert api.post("/v1/test/probe", BODY).status_code == 200
