"""API.md §1: only a hash of an API key secret is stored."""

from django.core.management import call_command
from django.db import connection

from accounts import scopes
from accounts.models import ApiKey
from accounts.services import api_key_create


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


def test_no_api_key_secret_is_anywhere_in_the_database(alice_org, capsys):
    secrets = [
        api_key_create(organization=alice_org, scopes=scopes.ALL, label=f"key {n}")[1]
        for n in range(3)
    ]
    call_command("create_api_key", organization=alice_org.name, label="from the command")
    secrets.append(capsys.readouterr().out.strip().splitlines()[-1])
    assert ApiKey.objects.count() == 4

    for secret in secrets:
        # The visible prefix is stored on purpose; the rest of the secret never is.
        assert rows_containing(secret[12:]) == []
        assert rows_containing(secret[12:24]) == []
    # The search does find what is there (it is not vacuous).
    assert ("accounts_apikey", "prefix") in rows_containing(secrets[0][:12])
