"""Django's PostgreSQL backend with a health check that costs no round trip (issue 20).

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
system's TCP timeout."""

import select

from django.db.backends.postgresql import base
from psycopg import pq

# Where SELECT 1 would succeed: idle, or inside a transaction that has not failed.
USABLE = (pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS)


class DatabaseWrapper(base.DatabaseWrapper):
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
