"""Django's PostgreSQL backend with a health check that costs no round trip (issue 20).

With CONN_HEALTH_CHECKS, Django checks a persistent connection before a request first uses it,
by running `SELECT 1`: a round trip to the server on every request, about a tenth of a
quantity-1 order's time (docs/benchmarks.md). The check is there for a connection the server
has closed since the last request (a restart, a failover, an idle timeout, an administrator's
pg_terminate_backend): without it that request fails instead of reconnecting.

Such a connection can be told without asking the server. Between requests an open connection is
idle and the server has nothing to say on it (this service never LISTENs), so its socket has no
data to read. A server that ends a session sends its last message (FATAL, "terminating
connection") and closes the socket: then there is something to read. So the check is a poll of
the socket with no wait; readable, or a connection libpq already knows is bad, is unusable, and
Django opens a new one before the request runs. A connection whose peer vanished without a word
(a cable cut) looks usable to both checks; SELECT 1 would hang on it as the request does, until
the operating system's TCP timeout."""

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed:
            return False
        pgconn = connection.pgconn
        if pgconn.status != pq.ConnStatus.OK:
            return False
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
        # Something to read on an idle connection (or a hang-up) means it has ended.
        return not poller.poll(0)
