"""Every staff change in the back office goes through the services and leaves one audit row
(accounts.StaffAction): who, when, what, why, committed with the change or not at all."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse

from accounts import scopes, staff_services
from accounts.models import ApiKey, CreditTransaction, StaffAction
from accounts.services import api_key_create
from tests.support.factories import make_endpoint, make_org, make_terminal_order
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery
from webhooks.tasks import deliver_webhook


def test_creating_and_revoking_a_key_is_audited_without_the_secret(superuser_client, superuser):
    org = make_org("Acme")

    created = superuser_client.post(
        reverse("admin:accounts_apikey_add"),
        {"organization": org.pk, "label": "ci", "scopes": ["numbers:read"]},
    )
    key = ApiKey.objects.get(label="ci")
    superuser_client.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [key.pk]},
    )
    superuser_client.post(  # a second revoke changes nothing and is not audited
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [key.pk]},
    )

    assert created.status_code == 200  # the page showing the secret once
    rows = list(StaffAction.objects.order_by("id"))
    assert [(r.action, r.user, r.target_id) for r in rows] == [
        ("api_key_create", superuser, str(key.pk)),
        ("api_key_revoke", superuser, str(key.pk)),
    ]
    assert rows[0].details["prefix"] == key.prefix
    secret = created.context["secret"]
    assert all(secret not in str(r.details) and secret not in r.target_repr for r in rows)


def test_a_redelivery_is_audited(superuser_client, superuser, monkeypatch):
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda *args, **kwargs: None)
    org = make_org("Acme")
    make_endpoint(org, "https://hooks.example.com/in")
    with transaction.atomic():
        event = webhook_services.bulk_order_completed(order=make_terminal_order(org))
    delivery = event.deliveries.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="dead", next_attempt_at=None)

    superuser_client.post(
        reverse("admin:webhooks_webhookdelivery_changelist"),
        {"action": "redeliver", "_selected_action": [str(delivery.pk)]},
    )

    audit = StaffAction.objects.get(action="webhook_redeliver")
    assert (audit.user, audit.target_id) == (superuser, str(delivery.pk))
    delivery.refresh_from_db()
    assert delivery.status == "pending"


def test_a_failed_change_leaves_no_audit_row(superuser_client):
    org = make_org("Acme", credit_cents=100)

    response = superuser_client.post(
        reverse("admin:accounts_organization_credit", args=[org.pk]),
        {"kind": "adjustment", "cents": "-101", "reason": "too much"},
    )

    assert response.status_code == 200
    assert not StaffAction.objects.exists()


def test_the_change_is_rolled_back_if_its_audit_row_cannot_be_written(superuser, monkeypatch):
    org = make_org("Acme", credit_cents=100)

    def broken(**kwargs):
        raise RuntimeError("audit unavailable")

    monkeypatch.setattr(staff_services, "record_staff_action", broken)
    with pytest.raises(RuntimeError):
        staff_services.staff_credit_move(
            user=superuser, organization_id=org.pk, kind="topup", cents=50, reason="wire"
        )

    org.refresh_from_db()
    assert org.balance_cents == 100
    assert CreditTransaction.objects.filter(organization=org).count() == 1  # the opening line


def test_the_audit_log_filters_by_user_and_action_and_finds_a_target(
    superuser_client, superuser, support_user
):
    acme, other = make_org("Acme"), make_org("Other")
    for user, org, cents in ((superuser, acme, 10), (support_user, other, 20)):
        staff_services.staff_credit_move(
            user=user, organization_id=org.pk, kind="topup", cents=cents, reason=f"wire {cents}"
        )
    key, _ = api_key_create(organization=acme, scopes=scopes.ALL)
    staff_services.staff_api_key_revoke(user=superuser, api_key=key, reason="leaked")
    url = reverse("admin:accounts_staffaction_changelist")

    def listed(**params):
        return sorted(r.reason for r in superuser_client.get(url, params).context["cl"].result_list)

    assert listed() == ["leaked", "wire 10", "wire 20"]
    assert listed(user__id__exact=support_user.pk) == ["wire 20"]
    assert listed(action__exact="api_key_revoke") == ["leaked"]
    assert listed(q=str(other.pk)) == ["wire 20"]
    assert listed(q="Acme") == ["wire 10"]  # the organization's name; a key reads "am_live_…"


def test_an_inventory_import_is_audited(superuser_client, superuser):
    upload = SimpleUploadedFile(
        "batch.csv", b"number,number_type\n+14155550100,local\n+18005550100,toll_free\n"
    )

    superuser_client.post(reverse("admin:phone_numbers_phonenumber_import_csv"), {"file": upload})

    audit = StaffAction.objects.get(action="inventory_import")
    assert audit.user == superuser
    assert audit.target_repr == "CSV file batch.csv"
    assert audit.details == {"filename": "batch.csv", "rows": 2, "added": 2, "skipped": 0}
