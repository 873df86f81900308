"""The rate limit holds across web processes: 2 real gunicorn processes, 4 client threads each,
bursting 10x the limit at one write route of one organization. With the Redis cache the counter
is one atomic INCR, so the tolerance is zero: exactly LIMIT successes, the rest 429 with
Retry-After.

Needs PostgreSQL (the gunicorn processes read the key the test wrote) and a Redis CACHE_URL
(the shared counter); skipped otherwise.

TARGET is a test-only write route served through tests.hardening.settings_test_routes. To aim
at a real route once it is merged, set TARGET to ("/v1/phone-numbers/search", {"quantity": 1})
and SETTINGS_MODULE to "config.settings" (search reserves nothing, so a burst is harmless)."""

import os
import threading

import pytest
import requests
from django.conf import settings
from django.core.cache.backends.redis import RedisCache

from tests.support.factories import make_api, make_org
from tests.support.processes import Gunicorn, child_env, database_url_of_test_db, free_port

TARGET = ("/v1/test/probe", {"quantity": 1})
SETTINGS_MODULE = "tests.hardening.settings_test_routes"
LIMIT = 20
TOLERANCE = 0  # Redis INCR is atomic; a file cache would need more (config/ratelimit.py)
PROCESSES = 2
THREADS_PER_PROCESS = 4
REQUESTS = 10 * LIMIT
PORTS = range(9900, 10000)  # this sandbox's range; CI uses any free one in it

uses_redis = settings.CACHES["default"]["BACKEND"] == (
    f"{RedisCache.__module__}.{RedisCache.__qualname__}"
)
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(
        not uses_redis, reason="needs CACHE_URL=rediscache://... (the counter shared by processes)"
    ),
]


@pytest.fixture
def web_processes(transactional_db, tmp_path):
    """PROCESSES gunicorn servers (one worker, THREADS_PER_PROCESS threads each) on the test
    database and the test cache; yields their base URLs."""
    env = child_env(
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        DATABASE_URL=database_url_of_test_db(),
        CACHE_URL=os.environ["CACHE_URL"],
        RATE_LIMIT_WRITES_PER_MINUTE=LIMIT,
        # A long window, so a burst of a few seconds never straddles two windows.
        RATE_LIMIT_WINDOW_SECONDS=3600,
        LOG_LEVEL="WARNING",
    )
    options = [
        "--threads",
        str(THREADS_PER_PROCESS),
        "--worker-class",
        "gthread",
        "--timeout",
        "120",
    ]
    servers, taken = [], set()
    try:
        for index in range(PROCESSES):
            port = free_port(within=PORTS, taken=taken)
            taken.add(port)
            servers.append(
                Gunicorn(
                    options=options, env=env, port=port, log_path=tmp_path / f"gunicorn-{index}.log"
                )
            )
        yield [server.wait_ready().url for server in servers]
    finally:
        for server in servers:
            server.stop(timeout=10)


def test_it_allows_no_more_than_the_limit_across_processes(web_processes):
    api = make_api(make_org("Burst Inc", credit_cents=10_000_000))
    path, body = TARGET
    results, lock = [], threading.Lock()
    per_thread = REQUESTS // (PROCESSES * THREADS_PER_PROCESS)
    start = threading.Barrier(PROCESSES * THREADS_PER_PROCESS)

    def burst(base_url):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {api.secret}"
        start.wait()
        for _ in range(per_thread):
            try:
                response = session.post(f"{base_url}{path}", json=body, timeout=60)
            except requests.RequestException as exc:  # reported below, not lost with the thread
                response = exc
            with lock:
                results.append((base_url, response))

    threads = [
        threading.Thread(target=burst, args=(url,))
        for url in web_processes
        for _ in range(THREADS_PER_PROCESS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    failures = [repr(response) for _, response in results if isinstance(response, Exception)]
    assert not failures, failures[:5]
    statuses = [response.status_code for _, response in results]
    successes = statuses.count(200)
    refused = [response for _, response in results if response.status_code == 429]
    assert len(results) == REQUESTS
    assert LIMIT <= successes <= LIMIT + TOLERANCE, statuses
    assert successes + len(refused) == REQUESTS, set(statuses)
    for response in refused:
        assert response.json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert {url for url, _ in results} == set(web_processes)
