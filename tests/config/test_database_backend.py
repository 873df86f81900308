"""The PostgreSQL health check (config/postgresql/base.py) on the test's own connection: usable
when idle or in a sound transaction, unusable in a failed one or once the server has ended the
session. tests/faults/test_web_faults.py checks the same through a real gunicorn."""

import time

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

pytestmark = pytest.mark.postgres


def test_a_sound_transaction_is_usable_and_a_failed_one_is_not(transactional_db):
    connection.ensure_connection()  # an earlier test may have closed it
    assert connection.is_usable()  # idle
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert connection.is_usable()  # inside a sound transaction
        try:
            cursor.execute("SELECT 1 / 0")
        except DatabaseError:
            assert not connection.is_usable()  # the transaction has failed
            raise
    assert connection.is_usable()  # rolled back


def test_a_connection_the_server_ended_is_not_usable(transactional_db):
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.3)  # the server's last message reaches the socket

    assert not connection.is_usable()
    connection.close()
    connection.ensure_connection()
    assert connection.is_usable()
