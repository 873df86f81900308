"""The support group through Django's test client: it views everything, closes and retries
orders, adjusts credit within SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS, and nothing more."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts import scopes
from accounts.models import ApiKey, CreditTransaction, Organization, StaffAction
from accounts.services import api_key_create
from config.staff import STAFF_APPS, MissingPermission, sync_support_group
from orders.models import BulkOrder
from phone_numbers.models import NumberPrice, PhoneNumber
from tests.backoffice.conftest import processing_order
from tests.support.factories import make_org
from tests.support.staff import staff_login

STAFF_MODELS = [model for model in admin.site._registry if model._meta.app_label in STAFF_APPS]


def credit_url(organization):
    return reverse("admin:accounts_organization_credit", args=[organization.pk])


@pytest.mark.parametrize("model", STAFF_MODELS, ids=lambda model: model._meta.label)
def test_support_can_view_every_changelist(support_client, model):
    opts = model._meta
    response = support_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))

    assert response.status_code == 200


def test_support_sees_every_back_office_model_on_the_dashboard(support_client):
    page = support_client.get(reverse("admin:index")).content.decode()

    for model in STAFF_MODELS:
        opts = model._meta
        assert reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") in page
    assert reverse("admin:auth_user_changelist") not in page  # auth stays with superusers


def test_support_can_close_an_order_with_a_reason(support_client, support_user):
    org = make_org("Acme")
    order = processing_order(org, label="pool-a")
    changelist = reverse("admin:orders_bulkorder_changelist")
    action = {"action": "close_orders", "_selected_action": [order.pk], "apply": "1"}

    response = support_client.post(changelist, {**action, "reason": "customer asked"})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == BulkOrder.Status.FAILED
    assert order.close_reason == "customer asked (sam)"
    release = CreditTransaction.objects.get(order_id=order.pk, kind="release")
    assert release.held_change_cents == -300
    audit = StaffAction.objects.get(action="order_close")
    assert (audit.user, audit.target_id, audit.reason) == (
        support_user,
        str(order.pk),
        "customer asked",
    )
    assert audit.details["released_cents"] == 300


def test_support_can_retry_an_order(
    support_client, support_user, django_capture_on_commit_callbacks
):
    order = processing_order(make_org("Acme"))
    changelist = reverse("admin:orders_bulkorder_changelist")

    with django_capture_on_commit_callbacks() as callbacks:
        response = support_client.post(
            changelist, {"action": "retry_fulfilment", "_selected_action": [order.pk]}
        )

    assert response.status_code == 302
    assert len(callbacks) == 1  # fulfilment enqueued after commit
    audit = StaffAction.objects.get(action="order_retry")
    assert (audit.user, audit.target_id) == (support_user, str(order.pk))


def test_support_can_adjust_credit_within_the_limit(support_client, support_user, settings):
    settings.SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS = 5_000
    org = make_org("Acme", credit_cents=10_000)

    up = support_client.post(
        credit_url(org), {"kind": "topup", "cents": "5000", "reason": "wire 1"}
    )
    down = support_client.post(
        credit_url(org), {"kind": "adjustment", "cents": "-5000", "reason": "goodwill undone"}
    )

    assert up.status_code == down.status_code == 302
    org.refresh_from_db()
    assert org.balance_cents == 10_000
    lines = CreditTransaction.objects.filter(organization=org, created_by=support_user)
    assert sorted(lines.values_list("kind", "amount_cents", "note")) == [
        ("adjustment", -5000, "goodwill undone"),
        ("topup", 5000, "wire 1"),
    ]
    assert sorted(StaffAction.objects.values_list("action", "reason", "user")) == [
        ("credit_adjust", "goodwill undone", support_user.pk),
        ("credit_topup", "wire 1", support_user.pk),
    ]


@pytest.mark.parametrize("cents", ["5001", "-5001"])
@pytest.mark.parametrize("kind", ["topup", "adjustment"])
def test_support_cannot_move_more_than_the_limit(support_client, settings, kind, cents):
    settings.SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS = 5_000
    org = make_org("Acme", credit_cents=10_000)
    lines_before = CreditTransaction.objects.count()

    response = support_client.post(credit_url(org), {"kind": kind, "cents": cents, "reason": "x"})

    assert response.status_code == 200
    assert response.context["form"].errors["cents"]
    org.refresh_from_db()
    assert org.balance_cents == 10_000
    assert CreditTransaction.objects.count() == lines_before
    assert not StaffAction.objects.exists()


def test_the_limit_message_names_the_limit(support_client, settings):
    settings.SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS = 5_000
    org = make_org("Acme")

    page = support_client.post(
        credit_url(org), {"kind": "topup", "cents": "9000", "reason": "x"}
    ).content.decode()

    assert "at most 5000 cents per top-up or adjustment" in page


def test_a_superuser_is_not_bound_by_the_support_limit(superuser_client, settings):
    settings.SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS = 5_000
    org = make_org("Acme", credit_cents=0)

    response = superuser_client.post(
        credit_url(org), {"kind": "topup", "cents": "90000", "reason": "invoice 12"}
    )

    assert response.status_code == 302
    org.refresh_from_db()
    assert org.balance_cents == 90_000


def test_the_organization_page_offers_the_credit_form_to_support(support_client):
    org = make_org("Acme")

    page = support_client.get(reverse("admin:accounts_organization_change", args=[org.pk]))

    assert credit_url(org) in page.content.decode()


def test_staff_without_the_permission_cannot_reach_the_credit_form(client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_organization"))
    staff_login(client, viewer)
    org = make_org("Acme")

    page = client.get(reverse("admin:accounts_organization_change", args=[org.pk]))

    assert page.status_code == 200 and credit_url(org) not in page.content.decode()
    assert client.get(credit_url(org)).status_code == 403


def test_support_cannot_edit_prices(support_client):
    price = NumberPrice.objects.get(number_type="local")
    url = reverse("admin:phone_numbers_numberprice_change", args=[price.pk])

    page = support_client.get(url)
    post = support_client.post(url, {"price_cents": "1"})

    assert page.status_code == 200  # view only: no form field, no save button
    assert 'name="price_cents"' not in page.content.decode()
    assert post.status_code == 403
    price.refresh_from_db()
    assert price.price_cents == 100


def test_a_superuser_edits_a_price_through_the_audited_service(superuser_client, superuser):
    price = NumberPrice.objects.get(number_type="local")
    url = reverse("admin:phone_numbers_numberprice_change", args=[price.pk])

    response = superuser_client.post(url, {"price_cents": "150"})

    assert response.status_code == 302
    price.refresh_from_db()
    assert price.price_cents == 150
    audit = StaffAction.objects.get(action="price_change")
    assert audit.user == superuser
    assert audit.details == {"number_type": "local", "old_cents": 100, "new_cents": 150}


def test_support_never_sees_key_secrets_only_prefixes(support_client):
    org = make_org("Acme")
    key, secret = api_key_create(organization=org, scopes=scopes.ALL, label="ci")

    pages = [
        support_client.get(reverse("admin:accounts_apikey_changelist")),
        support_client.get(reverse("admin:accounts_apikey_change", args=[key.pk])),
        support_client.get(reverse("admin:accounts_organization_change", args=[org.pk])),
    ]

    for page in pages:
        text = page.content.decode()
        assert page.status_code == 200
        assert key.prefix in text
        assert secret not in text and secret[12:20] not in text
        assert key.secret_hash not in text


def test_support_cannot_add_or_delete_organizations_or_keys_or_revoke_keys(support_client):
    org = make_org("Acme")
    key, _ = api_key_create(organization=org, scopes=scopes.ALL, label="ci")

    assert support_client.get(reverse("admin:accounts_organization_add")).status_code == 403
    assert support_client.get(reverse("admin:accounts_apikey_add")).status_code == 403
    assert (
        support_client.post(reverse("admin:accounts_organization_add"), {"name": "X"}).status_code
        == 403
    )
    delete = reverse("admin:accounts_organization_delete", args=[org.pk])
    assert support_client.post(delete, {"post": "yes"}).status_code == 403
    revoke = support_client.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [key.pk]},
    )
    assert revoke.status_code == 200  # "no action selected": the action is not offered
    key.refresh_from_db()
    assert key.revoked_at is None
    assert Organization.objects.count() == 1 and ApiKey.objects.count() == 1


def test_support_cannot_import_inventory_or_redeliver_webhooks(support_client):
    assert (
        support_client.get(reverse("admin:phone_numbers_phonenumber_import_csv")).status_code == 403
    )
    changelist = support_client.get(reverse("admin:phone_numbers_phonenumber_changelist"))
    assert "Import CSV" not in changelist.content.decode()
    deliveries = support_client.get(reverse("admin:webhooks_webhookdelivery_changelist"))
    assert "redeliver" not in deliveries.content.decode()


def test_support_cannot_change_the_audit_log(support_client, support_user):
    org = make_org("Acme")
    entry = StaffAction.objects.create(
        user=support_user,
        action="credit_topup",
        target_type="accounts.organization",
        target_id=str(org.pk),
        target_repr=str(org),
        reason="wire",
    )
    url = reverse("admin:accounts_staffaction_change", args=[entry.pk])

    assert support_client.get(url).status_code == 200
    assert support_client.post(url, {"reason": "changed"}).status_code == 403
    assert support_client.get(reverse("admin:accounts_staffaction_add")).status_code == 403
    entry.refresh_from_db()
    assert entry.reason == "wire"


def test_syncing_the_support_group_fails_loudly_when_a_permission_is_missing(db):
    Permission.objects.filter(codename="close_bulkorder").delete()

    with pytest.raises(MissingPermission, match="orders.close_bulkorder"):
        sync_support_group()


def test_only_superusers_are_offered_returning_numbers_to_the_carrier(rf, support_user, superuser):
    number_admin = admin.site._registry[PhoneNumber]
    request = rf.get("/admin/phone_numbers/phonenumber/")
    request.user = superuser
    returning = [name for name in number_admin.get_actions(request) if "return" in name]
    if not returning:
        pytest.skip("the phone-number admin has no return-to-carrier action")
    request.user = support_user

    assert not [name for name in number_admin.get_actions(request) if "return" in name]
