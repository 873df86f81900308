"""The support daily credit cap, and the staff changes that used to leave no audit row."""

import threading

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.urls import reverse

from accounts import scopes, staff_services
from accounts.models import CreditTransaction, Organization, StaffAction
from accounts.services import api_key_create
from config.staff import SUPPORT_GROUP, sync_support_group
from tests.support.factories import make_org


def move(user, org, cents, kind="topup"):
    return staff_services.staff_credit_move(
        user=user, organization_id=org.pk, kind=kind, cents=cents, reason="wire"
    )


def test_support_cannot_move_more_than_the_daily_cap_in_several_lines(settings, support_user):
    settings.SUPPORT_CREDIT_DAILY_LIMIT_CENTS = 25_000
    acme, other = make_org("Acme", credit_cents=0), make_org("Other", credit_cents=0)
    move(support_user, acme, 10_000)
    move(support_user, other, 10_000)

    with pytest.raises(staff_services.DailyCreditLimitExceeded) as refused:
        move(support_user, acme, 10_000)

    assert refused.value.moved_cents == 20_000
    move(support_user, acme, -5_000, kind="adjustment")  # down counts too: 25,000 now
    with pytest.raises(staff_services.DailyCreditLimitExceeded):
        move(support_user, acme, 1)
    acme.refresh_from_db()
    assert acme.balance_cents == 5_000
    assert CreditTransaction.objects.filter(created_by=support_user).count() == 3


def test_the_cap_is_rolling_over_24_hours(settings, support_user):
    import time_machine
    from django.utils import timezone

    settings.SUPPORT_CREDIT_DAILY_LIMIT_CENTS = 10_000
    acme = make_org("Acme", credit_cents=0)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        move(support_user, acme, 10_000)
    with (
        time_machine.travel(start + timezone.timedelta(hours=23, minutes=59)),
        pytest.raises(staff_services.DailyCreditLimitExceeded),
    ):
        move(support_user, acme, 1)
    with time_machine.travel(start + timezone.timedelta(hours=24, seconds=1)):
        move(support_user, acme, 10_000)


def test_superusers_are_not_capped(settings, superuser):
    settings.SUPPORT_CREDIT_DAILY_LIMIT_CENTS = 100
    acme = make_org("Acme", credit_cents=0)

    move(superuser, acme, 50_000)
    move(superuser, acme, 50_000)

    acme.refresh_from_db()
    assert acme.balance_cents == 100_000


def test_the_credit_form_explains_the_daily_cap(settings, support_client, support_user):
    settings.SUPPORT_CREDIT_DAILY_LIMIT_CENTS = 15_000
    acme = make_org("Acme", credit_cents=0)
    move(support_user, acme, 10_000)

    response = support_client.post(
        reverse("admin:accounts_organization_credit", args=[acme.pk]),
        {"kind": "topup", "cents": 10_000, "reason": "wire"},
    )

    assert response.status_code == 200
    assert "at most 15000 cents in 24 hours" in response.content.decode()
    acme.refresh_from_db()
    assert acme.balance_cents == 10_000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_moves_at_once_cannot_both_slip_under_the_cap(settings):
    """Both read "0 moved" without the user-row lock and both commit, 16,000 against 10,000."""
    settings.SUPPORT_CREDIT_DAILY_LIMIT_CENTS = 10_000
    settings.SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS = 10_000
    sync_support_group()
    staff_services_user = User.objects.create_user("sam", is_staff=True)
    staff_services_user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    orgs = [make_org(f"Org {n}", credit_cents=0) for n in range(2)]
    for _ in range(3):
        CreditTransaction.objects.filter(created_by=staff_services_user).delete()
        barrier, outcomes = threading.Barrier(2), []

        def one(org, barrier=barrier, outcomes=outcomes):
            user = User.objects.get(pk=staff_services_user.pk)
            barrier.wait()
            try:
                move(user, org, 8_000)
                outcomes.append("moved")
            except staff_services.DailyCreditLimitExceeded:
                outcomes.append("refused")
            finally:
                connection.close()

        threads = [threading.Thread(target=one, args=(org,)) for org in orgs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(outcomes) == ["moved", "refused"]


def test_renaming_an_organization_in_the_admin_is_audited(superuser_client, superuser):
    acme = make_org("Acme")

    response = superuser_client.post(
        reverse("admin:accounts_organization_change", args=[acme.pk]), {"name": "Acme Corp"}
    )

    assert response.status_code == 302
    assert Organization.objects.get(pk=acme.pk).name == "Acme Corp"
    audit = StaffAction.objects.get(action="organization_rename")
    assert (audit.user, audit.target_id) == (superuser, str(acme.pk))
    assert audit.details == {"old_name": "Acme", "new_name": "Acme Corp"}


def test_creating_an_organization_in_the_admin_is_audited(superuser_client, superuser):
    superuser_client.post(reverse("admin:accounts_organization_add"), {"name": "Newco"})

    audit = StaffAction.objects.get(action="organization_create")
    assert (audit.user, audit.target_repr) == (superuser, "Newco")


def test_editing_a_keys_scopes_in_the_admin_is_audited(superuser_client, superuser):
    acme = make_org("Acme")
    key, _ = api_key_create(organization=acme, scopes=[scopes.NUMBERS_READ], label="ci")

    superuser_client.post(
        reverse("admin:accounts_apikey_change", args=[key.pk]),
        {
            "label": "ci",
            "scopes": [scopes.NUMBERS_READ, scopes.PLATFORM_INVENTORY_WRITE],
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )

    key.refresh_from_db()
    assert scopes.PLATFORM_INVENTORY_WRITE in key.scopes
    audit = StaffAction.objects.get(action="api_key_change")
    assert audit.user == superuser
    assert audit.details["changed"] == {
        "scopes": {
            "before": [scopes.NUMBERS_READ],
            "after": [scopes.NUMBERS_READ, scopes.PLATFORM_INVENTORY_WRITE],
        }
    }


def test_webhook_events_and_deliveries_cannot_be_deleted_in_the_admin(superuser_client):
    for model in ("webhookevent", "webhookdelivery", "webhookendpoint"):
        changelist = superuser_client.get(reverse(f"admin:webhooks_{model}_changelist"))
        assert changelist.status_code == 200
        assert "delete_selected" not in changelist.content.decode()
