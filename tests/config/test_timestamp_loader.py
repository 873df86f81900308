"""Timestamps read through the project's PostgreSQL backend (config/postgresql/base.py) come out
exactly as Django's own loader gives them, parsed by psycopg's C loader when psycopg-binary is
installed."""

import psycopg
import pytest
from django.db import DataError, connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg import pq
from psycopg.postgres import types

from config.postgresql.base import TimestamptzLoader

pytestmark = pytest.mark.postgres

TIMESTAMPTZ = types["timestamptz"].oid
VALUES = """SELECT now(), '2020-02-29 23:59:59.999999+00'::timestamptz,
    '2026-12-07 12:00:00.5+05:30'::timestamptz, '1999-12-31 19:00:00-05'::timestamptz,
    '0001-01-01 00:00:00+00'::timestamptz, '9999-12-31 23:59:59.999999+00'::timestamptz,
    NULL::timestamptz"""


def read(sql, loader=None):
    with connection.cursor() as cursor:
        if loader is not None:  # on this cursor only, as Django's create_cursor would
            cursor.adapters.register_loader("timestamptz", loader)
        cursor.execute(sql)
        return cursor.fetchone()


def djangos_loader():
    class DjangoTimestamptzLoader(BaseTzLoader):
        timezone = connection.timezone

    return DjangoTimestamptzLoader


def test_timestamps_read_as_djangos_loader_reads_them(db):
    ours = read(VALUES)
    theirs = read(VALUES, djangos_loader())

    assert ours == theirs
    assert [value.tzinfo for value in ours[:-1]] == [connection.timezone] * 6
    assert ours[-1] is None


def test_an_infinite_timestamp_fails_as_with_djangos_loader(db):
    for loader in (None, djangos_loader()):
        with pytest.raises(DataError, match="infinity"):
            read("SELECT 'infinity'::timestamptz", loader)


def test_connections_parse_with_psycopgs_own_loader(db):
    connection.ensure_connection()
    loader_class = connection.connection.adapters.get_loader(TIMESTAMPTZ, pq.Format.TEXT)
    loader = loader_class(TIMESTAMPTZ, connection.connection)

    assert issubclass(loader_class, TimestamptzLoader)
    assert loader_class.timezone == connection.timezone
    default = psycopg.adapters.get_loader(TIMESTAMPTZ, pq.Format.TEXT)
    assert type(loader._parse.__self__) is default
    if pq.__impl__ == "binary":
        assert default.__module__.startswith("psycopg_binary")
