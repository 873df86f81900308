"""At most REPLAYS_PER_MINUTE replays per organization per minute (API.md §5): a fixed-window
counter in the shared cache, as api.ratelimit counts write requests (atomic on Redis; a cache
outage lets the replay through, logged)."""

import math
import time

import structlog

from api.errors import RateLimited
from api.ratelimit import hit_counter

log = structlog.get_logger(__name__)

REPLAYS_PER_MINUTE = 10
WINDOW_SECONDS = 60


def check_replay_allowed(organization_id) -> None:
    """Count one replay; raise RateLimited (429, Retry-After to the window's end) past the
    limit."""
    now = time.time()
    window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    key = f"ratelimit:webhook-replays:{organization_id}:{window_start}"
    try:
        count = hit_counter(key, ttl=WINDOW_SECONDS + 5)
    except Exception:  # the limit protects capacity; not worth failing the request over
        log.warning("rate_limit_cache_unavailable", exc_info=True)
        return
    if count > REPLAYS_PER_MINUTE:
        raise RateLimited(retry_after=math.ceil(window_start + WINDOW_SECONDS - now))
