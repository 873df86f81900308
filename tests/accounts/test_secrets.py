"""API.md §1: only a hash of an API key secret is stored."""

from django.core.management import call_command

from accounts import scopes
from accounts.models import ApiKey
from accounts.services import api_key_create
from tests.support.database import rows_containing


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
