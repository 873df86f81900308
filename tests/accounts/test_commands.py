"""The operator commands of API.md §6: a one-line summary on stdout; errors on stderr with a
non-zero exit."""

import pytest
from django.core.management import execute_from_command_line

from accounts import scopes
from accounts.models import ApiKey, CreditTransaction, Organization
from tests.support.factories import Api


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch):
    # run_from_argv closes every database connection when a command ends (right for a
    # process that exits next); here it would close the connection holding the test's
    # transaction.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)


def run(capsys, *argv):
    """Run a command as `manage.py` would: (exit code, stdout, stderr)."""
    try:
        execute_from_command_line(["manage.py", *argv])
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_create_organization_prints_its_id_with_500_cents_by_default(db, capsys):
    code, out, err = run(capsys, "create_organization", "Acme")

    organization = Organization.objects.get(name="Acme")
    assert (code, err) == (0, "")
    assert out.count("\n") == 1
    assert out.strip().endswith(str(organization.id))
    assert organization.balance_cents == 500
    assert list(organization.transactions.values_list("kind", "amount_cents")) == [("topup", 500)]


def test_create_organization_takes_the_opening_credit(db, capsys):
    code, out, _ = run(capsys, "create_organization", "Acme", "--credit-cents", "0")

    assert code == 0
    assert Organization.objects.get(name="Acme").balance_cents == 0
    assert CreditTransaction.objects.count() == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["Taken"], "already exists"),
        (["New", "--credit-cents", "-1"], "--credit-cents"),
        (["New", "--credit-cents", "lots"], "invalid int value"),
        (["New", "--credit-cents", str(10**30)], "--credit-cents"),
        (["   "], "NAME"),
        ([], "required: name"),
    ],
)
def test_create_organization_reports_errors_on_stderr(db, capsys, argv, message):
    Organization.objects.create(name="Taken")

    code, out, err = run(capsys, "create_organization", *argv)

    assert code != 0
    assert out == ""
    assert message in err
    assert Organization.objects.count() == 1


def test_create_api_key_prints_the_secret_alone_on_the_last_line(alice_org, capsys):
    code, out, err = run(
        capsys,
        "create_api_key",
        "--organization",
        alice_org.name,
        "--scopes",
        "billing:read,numbers:read",
        "--label",
        "ci",
    )

    assert (code, err) == (0, "")
    summary, secret = out.splitlines()
    assert secret.startswith("am_live_") and len(secret) >= 40
    key = ApiKey.objects.get(prefix=secret[:12])
    assert key.prefix in summary
    assert secret not in summary
    assert (key.scopes, key.label, key.organization) == (
        ["billing:read", "numbers:read"],
        "ci",
        alice_org,
    )
    assert Api(secret).get("/v1/billing/wallet").status_code == 200


def test_create_api_key_defaults_to_every_customer_scope(alice_org, capsys):
    code, out, _ = run(capsys, "create_api_key", "--organization", alice_org.name)

    key = ApiKey.objects.get(prefix=out.splitlines()[-1][:12])
    assert code == 0
    assert set(key.scopes) == set(scopes.CUSTOMER_DEFAULT)
    assert scopes.PLATFORM_INVENTORY_WRITE not in key.scopes


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--organization", "Nobody"], "no organization named 'Nobody'"),
        (["--organization", "Alice Telecom", "--scopes", "billing:read,root"], "unknown scopes"),
        (["--organization", "Alice Telecom", "--scopes", " , "], "at least one scope"),
        (["--organization", "Alice Telecom", "--label", "x" * 101], "--label"),
        ([], "--organization"),
    ],
)
def test_create_api_key_reports_errors_on_stderr(alice_org, capsys, argv, message):
    code, out, err = run(capsys, "create_api_key", *argv)

    assert code != 0
    assert out == ""
    assert message in err
    assert ApiKey.objects.count() == 0


def test_topup_credit_writes_a_ledger_entry(alice_org, capsys):
    code, out, err = run(
        capsys,
        "topup_credit",
        "--organization",
        alice_org.name,
        "--cents",
        "2500",
        "--note",
        "invoice 42",
    )

    alice_org.refresh_from_db()
    assert (code, err) == (0, "")
    assert out.count("\n") == 1
    assert "12500" in out
    assert alice_org.balance_cents == 12_500
    entry = alice_org.transactions.order_by("-created_at").first()
    assert (entry.kind, entry.amount_cents, entry.note) == ("topup", 2500, "invoice 42")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--organization", "Nobody", "--cents", "5"], "no organization named"),
        (["--organization", "Alice Telecom", "--cents", "0"], "--cents"),
        (["--organization", "Alice Telecom", "--cents", "-5"], "--cents"),
        (["--organization", "Alice Telecom", "--cents", "1.5"], "invalid int value"),
        (["--organization", "Alice Telecom", "--cents", str(10**30)], "--cents"),
        (["--organization", "Alice Telecom"], "--cents"),
    ],
)
def test_topup_credit_reports_errors_on_stderr(alice_org, capsys, argv, message):
    code, out, err = run(capsys, "topup_credit", *argv)

    alice_org.refresh_from_db()
    assert code != 0
    assert out == ""
    assert message in err
    assert alice_org.balance_cents == 10_000
