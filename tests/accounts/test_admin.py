"""The back office for organizations, keys and credit, through Django's test client as a
logged-in superuser."""

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import scopes
from accounts.models import ApiKey, CreditTransaction, Organization
from accounts.services import api_key_create, credit_hold, lock_organization
from tests.accounts.test_secrets import rows_containing
from tests.support.factories import Api, make_org


@pytest.fixture
def staff(admin_client, admin_user):
    return admin_client


def create_key_in_admin(staff, organization, **fields):
    data = {
        "organization": str(organization.pk),
        "label": "support-made",
        "scopes": [scopes.BILLING_READ, scopes.NUMBERS_READ],
        "expires_at_0": "",
        "expires_at_1": "",
        **fields,
    }
    return staff.post(reverse("admin:accounts_apikey_add"), data)


def secret_on(page) -> str:
    match = re.search(r'<pre id="api-key-secret"[^>]*>(am_live_[A-Za-z0-9_-]+)</pre>', page)
    assert match, page
    return match.group(1)


def test_creating_a_key_shows_its_secret_once_and_stores_only_its_hash(staff, alice_org):
    response = create_key_in_admin(staff, alice_org)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = secret_on(response.content.decode())
    key = ApiKey.objects.get(prefix=secret[:12], label="support-made")
    assert key.scopes == [scopes.BILLING_READ, scopes.NUMBERS_READ]
    assert rows_containing(secret[12:]) == []
    assert Api(secret).get("/v1/billing/wallet").status_code == 200
    # Never again: not on the key's page, the list, the organization, nor in a message.
    for url in (
        reverse("admin:accounts_apikey_change", args=[key.pk]),
        reverse("admin:accounts_apikey_changelist"),
        reverse("admin:accounts_organization_change", args=[alice_org.pk]),
    ):
        page = staff.get(url).content.decode()
        assert secret[12:] not in page
        assert key.prefix in page


def test_a_key_created_in_the_admin_is_logged_in_its_history(staff, alice_org):
    from django.contrib.admin.models import LogEntry

    create_key_in_admin(staff, alice_org)

    assert LogEntry.objects.filter(action_flag=1).count() == 1


def test_a_keys_label_scopes_and_expiry_can_be_edited_but_not_its_organization(
    staff, alice_org, bob_org
):
    key, secret = api_key_create(organization=alice_org, scopes=scopes.ALL, label="old")

    response = staff.post(
        reverse("admin:accounts_apikey_change", args=[key.pk]),
        {
            "organization": str(bob_org.pk),
            "label": "new",
            "scopes": [scopes.NUMBERS_READ],
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )

    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.label, key.scopes, key.organization) == ("new", [scopes.NUMBERS_READ], alice_org)
    assert Api(secret).get("/v1/billing/wallet").status_code == 403


def test_the_admin_refuses_a_key_without_scopes(staff, alice_org):
    response = create_key_in_admin(staff, alice_org, scopes=[])

    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert ApiKey.objects.count() == 0


def test_the_revoke_action_revokes_the_selected_keys(staff, alice_org):
    first, first_secret = api_key_create(organization=alice_org, scopes=scopes.ALL)
    second, second_secret = api_key_create(organization=alice_org, scopes=scopes.ALL)
    kept, kept_secret = api_key_create(organization=alice_org, scopes=scopes.ALL)

    response = staff.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert "Revoked 2 API key(s)." in response.content.decode()
    assert Api(first_secret).get("/v1/billing/wallet").status_code == 401
    assert Api(second_secret).get("/v1/billing/wallet").status_code == 401
    assert Api(kept_secret).get("/v1/billing/wallet").status_code == 200


def test_keys_and_organizations_cannot_be_deleted(staff, alice_org):
    key, _ = api_key_create(organization=alice_org, scopes=scopes.ALL)

    assert staff.get(reverse("admin:accounts_apikey_delete", args=[key.pk])).status_code == 403
    org_delete = reverse("admin:accounts_organization_delete", args=[alice_org.pk])
    assert staff.get(org_delete).status_code == 403


def credit_url(organization):
    return reverse("admin:accounts_organization_credit", args=[organization.pk])


def test_a_top_up_writes_a_ledger_line_with_the_staff_user_and_reason(staff, admin_user, alice_org):
    response = staff.post(
        credit_url(alice_org), {"kind": "topup", "cents": "2500", "reason": "wire 7781"}
    )

    assert response.status_code == 302
    alice_org.refresh_from_db()
    assert alice_org.balance_cents == 12_500
    line = CreditTransaction.objects.filter(organization=alice_org).latest("created_at")
    assert (line.kind, line.amount_cents, line.note, line.created_by) == (
        "topup",
        2500,
        "wire 7781",
        admin_user,
    )


def test_an_adjustment_may_go_down_but_never_below_the_available_credit(staff, alice_org):
    with transaction.atomic():
        credit_hold(organization=lock_organization(alice_org.id), cents=4_000, order_id=None)

    refused = staff.post(
        credit_url(alice_org), {"kind": "adjustment", "cents": "-6001", "reason": "correction"}
    )
    accepted = staff.post(
        credit_url(alice_org), {"kind": "adjustment", "cents": "-6000", "reason": "correction"}
    )

    assert refused.status_code == 200
    assert "Only 6000 cents are available" in refused.content.decode()
    assert accepted.status_code == 302
    alice_org.refresh_from_db()
    assert (alice_org.balance_cents, alice_org.held_cents) == (4_000, 4_000)


@pytest.mark.parametrize(
    "data, error",
    [
        ({"kind": "topup", "cents": "100", "reason": "  "}, "This field is required."),
        ({"kind": "topup", "cents": "100"}, "This field is required."),
        ({"kind": "topup", "cents": "-100", "reason": "x"}, "A top-up must be positive"),
        ({"kind": "adjustment", "cents": "0", "reason": "x"}, "Must not be zero."),
        ({"kind": "topup", "cents": "1.5", "reason": "x"}, "Enter a whole number."),
        ({"kind": "topup", "cents": str(10**15), "reason": "x"}, "less than or equal"),
        ({"kind": "refund", "cents": "100", "reason": "x"}, "Select a valid choice."),
    ],
)
def test_the_credit_form_refuses_bad_input_and_changes_nothing(staff, alice_org, data, error):
    response = staff.post(credit_url(alice_org), data)

    assert response.status_code == 200
    assert error in response.content.decode()
    alice_org.refresh_from_db()
    assert alice_org.balance_cents == 10_000
    assert CreditTransaction.objects.filter(organization=alice_org).count() == 1


def test_balances_cannot_be_edited_on_the_organization_form(staff, alice_org):
    response = staff.post(
        reverse("admin:accounts_organization_change", args=[alice_org.pk]),
        {"name": "Alice Telecom Inc", "balance_cents": "99999999", "held_cents": "5"},
    )

    assert response.status_code == 302
    alice_org.refresh_from_db()
    assert alice_org.name == "Alice Telecom Inc"
    assert (alice_org.balance_cents, alice_org.held_cents) == (10_000, 0)


def test_an_organization_created_in_the_admin_starts_with_an_empty_ledger(staff):
    response = staff.post(reverse("admin:accounts_organization_add"), {"name": "Newco"})

    assert response.status_code == 302
    organization = Organization.objects.get(name="Newco")
    assert organization.balance_cents == 0


def test_the_organization_page_shows_balances_and_the_ledger(staff, alice_org):
    staff.post(credit_url(alice_org), {"kind": "topup", "cents": "700", "reason": "wire 99"})

    page = staff.get(reverse("admin:accounts_organization_change", args=[alice_org.pk]))

    text = page.content.decode()
    assert "10700" in text
    assert "wire 99" in text
    assert "opening credit" in text
    assert "Top up / adjust credit" in text
    ledger = staff.get(
        reverse("admin:accounts_credittransaction_changelist")
        + f"?organization__id__exact={alice_org.pk}"
    )
    assert ledger.status_code == 200
    assert "wire 99" in ledger.content.decode()


def test_the_ledger_is_read_only(staff, alice_org):
    line = CreditTransaction.objects.filter(organization=alice_org).first()

    assert staff.get(reverse("admin:accounts_credittransaction_add")).status_code == 403
    change = staff.post(
        reverse("admin:accounts_credittransaction_change", args=[line.pk]),
        {"amount_cents": "1"},
    )
    assert change.status_code == 403
    line.refresh_from_db()
    assert line.amount_cents == 10_000


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:accounts_organization_changelist",
        "admin:accounts_apikey_changelist",
        "admin:accounts_credittransaction_changelist",
    ],
)
def test_changelists_make_the_same_number_of_queries_for_many_rows(staff, url_name):
    def queries_for_page():
        with CaptureQueriesContext(connection) as captured:
            assert staff.get(reverse(url_name)).status_code == 200
        return len(captured)

    org = make_org("Org 0")
    api_key_create(organization=org, scopes=scopes.ALL)
    few = queries_for_page()
    for n in range(1, 15):
        org = make_org(f"Org {n}")
        api_key_create(organization=org, scopes=scopes.ALL)
    many = queries_for_page()

    assert many == few
