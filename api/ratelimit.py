"""Per-organization rate limit on write routes (API.md §1).

A fixed-window counter in the Django cache: one key per (organization, window), created with
`cache.add` (SET NX on Redis) and bumped with `cache.incr` (INCRBY on Redis), so every web
process shares one atomic counter and N processes never allow N times the limit. A rejected
request costs one cache round trip and no database write.

Why not DRF's SimpleRateThrottle: it keeps a list of timestamps in the cache and rewrites it
with get + set, so two processes racing both read the old list and both get through.

Tolerance:
- Redis (CACHE_URL=rediscache://...): exact within a window. As with any fixed window, a
  client can spend one full window at its end and the next at its start: at most 2x the limit
  in any 60 s span straddling a boundary.
- The embedded file cache (no CACHE_URL): `add` and `incr` are read-then-write on a file, so
  concurrent requests can lose increments; the limit then holds only approximately (roughly up to
  one extra request per concurrent writer per window). Fine for local development, not for
  production: set CACHE_URL to Redis there.
- If the cache is unreachable the request is let through (logged): the limit protects capacity,
  it is not worth taking the API down for.
"""

import math
import time

import structlog
from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

log = structlog.get_logger(__name__)

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
KEY_PREFIX = "ratelimit:writes"


def _counter_key(organization_id, window_start: int) -> str:
    return f"{KEY_PREFIX}:{organization_id}:{window_start}"


def hit_counter(key: str, *, ttl: int) -> int:
    """Count one hit on `key` and return the new count, atomically on Redis."""
    if cache.add(key, 1, timeout=ttl):
        return 1
    try:
        return cache.incr(key)
    except ValueError:
        # The key expired between add and incr (a request that stalled past its window).
        cache.add(key, 1, timeout=ttl)
        return 1


class OrganizationWriteThrottle(BaseThrottle):
    """RATE_LIMIT_WRITES_PER_MINUTE write requests per organization per window of
    RATE_LIMIT_WINDOW_SECONDS; 0 disables. DRF runs throttles after authentication and the
    scope check, so it counts only requests of a known organization that would otherwise run.
    Over the limit DRF raises Throttled, which api.errors renders as 429 RATE_LIMITED with
    Retry-After = whole seconds to the end of the window."""

    def __init__(self):
        self.wait_seconds = None

    def allow_request(self, request, view):
        limit = settings.RATE_LIMIT_WRITES_PER_MINUTE
        organization = getattr(request, "organization", None)
        if not limit or request.method not in WRITE_METHODS or organization is None:
            return True
        window = settings.RATE_LIMIT_WINDOW_SECONDS
        now = time.time()
        window_start = int(now // window) * window
        try:
            count = hit_counter(_counter_key(organization.pk, window_start), ttl=window + 5)
        except Exception:  # a cache outage must not take the API down; see module docstring
            log.warning("rate_limit_cache_unavailable", exc_info=True)
            return True
        if count <= limit:
            return True
        self.wait_seconds = max(1, math.ceil(window_start + window - now))
        return False

    def wait(self):
        return self.wait_seconds
