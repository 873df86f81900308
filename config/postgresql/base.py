"""Django's PostgreSQL backend with a health check that costs no round trip, and timestamps
parsed by psycopg's C loader (issue 20).

With CONN_HEALTH_CHECKS, Django checks a persistent connection before a request first uses it,
by running `SELECT 1`: a round trip to the server on every request (about 0.6 ms of a 24 ms
quantity-1 order on loopback, docs/benchmarks.md; a network round trip when the database is on
another machine). The check is there for a connection the server has closed since the last
request (a restart, a failover, an idle timeout, an administrator's pg_terminate_backend):
without it that request fails instead of reconnecting.

Such a connection can be told without asking the server. Between requests an open connection is
idle and the server has nothing to say on it (this service never LISTENs), so its socket has no
data to read. A server that ends a session sends its last message (FATAL, "terminating
connection") and closes the socket: then there is something to read. So the check is a poll of
the socket with no wait; readable, or a connection libpq already knows is bad, is unusable, and
Django opens a new one before the request runs. As with SELECT 1, a connection in a failed
transaction or with a statement still running is unusable too (libpq knows its transaction
state without asking). A connection whose peer vanished without a word (a cable cut) looks
usable to both checks; SELECT 1 would hang on it as the request does, until the operating
system's TCP timeout.

Timestamps: Django reads every `timestamptz` through its own loader (BaseTzLoader), a subclass
of psycopg's pure-Python one, because psycopg's C loader (psycopg-binary) cannot be subclassed
(Django ticket #36960, psycopg issue #1273). Parsing in Python costs ~4.5 us a value: 1.4 ms of
the 100-number owned list's 300 timestamps. TimestamptzLoader below keeps Django's class and
its behaviour (the zone replaced by the connection's) and hands the parsing to the loader
psycopg itself would use, the C one when psycopg-binary is installed: ~1.5 us a value."""

import functools
import select

from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg import adapt, adapters, pq
from psycopg.postgres import types

# Where SELECT 1 would succeed: idle, or inside a transaction that has not failed.
USABLE = (pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS)


# What psycopg itself loads timestamptz text with: its C loader when psycopg-binary is there.
PSYCOPG_TIMESTAMPTZ_LOADER = adapters.get_loader(types["timestamptz"].oid, pq.Format.TEXT)


class TimestamptzLoader(BaseTzLoader):
    """Django's timestamptz loader, parsing with psycopg's default loader for the type."""

    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        self._parse = PSYCOPG_TIMESTAMPTZ_LOADER(oid, context).load

    def load(self, data):
        return self._parse(data).replace(tzinfo=self.timezone)


@functools.cache
def adapters_with_timestamptz_loader(template: adapt.AdaptersMap, timezone) -> adapt.AdaptersMap:
    """Django's adapters for new connections (one map per setting, as Django caches its own)
    with TimestamptzLoader on `timezone`, the connection's zone (Django then registers nothing
    per cursor: its check finds the loader on the connection's zone already)."""
    zone = timezone

    class ZonedTimestamptzLoader(TimestamptzLoader):
        timezone = zone

    context = adapt.AdaptersMap(template)
    context.register_loader("timestamptz", ZonedTimestamptzLoader)
    return context


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        params["context"] = adapters_with_timestamptz_loader(params["context"], self.timezone)
        return params

    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed:
            return False
        pgconn = connection.pgconn
        if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status not in USABLE:
            return False
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
        # Something to read on an idle connection (or a hang-up) means it has ended.
        return not poller.poll(0)
