"""Looking through the whole test database, e.g. for a secret that must not be stored."""

from django.db import connection


def rows_containing(fragment: str) -> list[tuple[str, str]]:
    """(table, column) of every row of every table whose value, read as text, contains
    `fragment`: every column of every table, not only the ones we expect to hold text."""
    hits = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                qtable = connection.ops.quote_name(table)
                qcolumn = connection.ops.quote_name(column.name)
                cursor.execute(
                    f"SELECT COUNT(*) FROM {qtable} WHERE CAST({qcolumn} AS TEXT) LIKE %s",
                    [f"%{fragment}%"],
                )
                if cursor.fetchone()[0]:
                    hits.append((table, column.name))
    return hits
