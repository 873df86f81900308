"""No N+1 on any changelist: a page of 100 rows costs the same number of queries as a page of
one. Every ModelAdmin registered on the admin site is covered (a new admin without a row
factory here fails the test), and every row points at its own related rows (organization,
user, event...) so a missing select_related shows up."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKey, ApiKeyEvent, CreditTransaction, Organization, StaffAction
from api.models import IdempotencyKey
from orders.models import BulkOrder
from phone_numbers.models import NumberPrice, PhoneNumber, Reservation
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

MANY = 100


def organizations(n, tag):
    return Organization.objects.bulk_create(
        [Organization(name=f"{tag} {i}", balance_cents=500) for i in range(n)]
    )


def users(n, tag):
    return User.objects.bulk_create(
        [User(username=f"{tag}-{i}", is_staff=True, password="!") for i in range(n)]
    )


def make_organizations(n, tag):
    orgs = organizations(n, tag)
    make_api_keys_for(orgs, tag)


def make_api_keys_for(orgs, tag):
    ApiKey.objects.bulk_create(
        [
            ApiKey(
                organization=org,
                prefix=f"am_live_{i:04d}",
                secret_hash=f"{tag}{i:060d}"[-64:],
                scopes=["numbers:read"],
            )
            for i, org in enumerate(orgs)
        ]
    )


def make_api_keys(n, tag):
    make_api_keys_for(organizations(n, tag), tag)


def make_api_key_events(n, tag):
    keys = []
    for i, org in enumerate(organizations(n, tag)):
        key = ApiKey.objects.create(
            organization=org, prefix=f"am_{tag}_{i:04d}", secret_hash=f"e{tag}{i:060d}"[-64:]
        )
        keys.append(key)
    ApiKeyEvent.objects.bulk_create(
        [
            ApiKeyEvent(
                organization=key.organization,
                api_key=key,
                actor_key=key,
                action="rotated",
                request_id=f"{i:026d}",
            )
            for i, key in enumerate(keys)
        ]
    )


def make_credit_transactions(n, tag):
    CreditTransaction.objects.bulk_create(
        [
            CreditTransaction(
                organization=org,
                kind="topup",
                amount_cents=500,
                balance_after_cents=500,
                held_after_cents=0,
                created_by=user,
                note="opening",
            )
            for org, user in zip(organizations(n, tag), users(n, tag), strict=True)
        ]
    )


def make_staff_actions(n, tag):
    StaffAction.objects.bulk_create(
        [
            StaffAction(
                user=user,
                action="credit_topup",
                target_type="accounts.organization",
                target_id=str(i),
                target_repr=f"Org {i}",
                reason="wire",
            )
            for i, user in enumerate(users(n, tag))
        ]
    )


def make_bulk_orders(n, tag):
    BulkOrder.objects.bulk_create(
        [
            BulkOrder(
                organization=org,
                quantity=5,
                number_type="local",
                unit_price_cents=100,
                status="processing",
                label=f"{tag}-{i}",
            )
            for i, org in enumerate(organizations(n, tag))
        ]
    )


def make_idempotency_keys(n, tag):
    IdempotencyKey.objects.bulk_create(
        [
            IdempotencyKey(
                organization_id=org.id,
                key=f"{tag}-{i}",
                fingerprint="f" * 64,
                method="POST",
                path="/v1/phone-numbers/bulk",
                expires_at=timezone.now() + timedelta(days=1),
            )
            for i, org in enumerate(organizations(n, tag))
        ]
    )


def make_phone_numbers(n, tag):
    start = 0 if tag == "few" else 1000
    PhoneNumber.objects.bulk_create(
        [
            PhoneNumber(
                number=f"+1415555{start + i:04d}",
                number_type="local",
                area_code="415",
                state="assigned",
                organization=org,
                assigned_at=timezone.now(),
            )
            for i, org in enumerate(organizations(n, tag))
        ]
    )


def make_number_prices(n, tag):
    # One row per number type: at most two rows exist, so compare one with two.
    NumberPrice.objects.all().delete()
    types = ["local"] if tag == "few" else ["local", "toll_free"]
    NumberPrice.objects.bulk_create([NumberPrice(number_type=t, price_cents=100) for t in types])


def make_webhook_endpoints(n, tag):
    WebhookEndpoint.objects.bulk_create(
        [
            WebhookEndpoint(
                organization=org,
                url=f"https://example.com/{tag}/{i}",
                events=["bulk_order.completed"],
                secret_encrypted="fernet:not-a-real-token",
            )
            for i, org in enumerate(organizations(n, tag))
        ]
    )


def make_webhook_events(n, tag):
    return WebhookEvent.objects.bulk_create(
        [
            WebhookEvent(
                id=f"evt_{tag}_{i}", type="bulk_order.completed", organization=org, body="{}"
            )
            for i, org in enumerate(organizations(n, tag))
        ]
    )


def make_webhook_deliveries(n, tag):
    events = make_webhook_events(n, tag)
    endpoints = WebhookEndpoint.objects.bulk_create(
        [
            WebhookEndpoint(
                organization=event.organization,
                url=f"https://example.com/{tag}/{i}",
                events=["bulk_order.completed"],
                secret_encrypted="fernet:not-a-real-token",
            )
            for i, event in enumerate(events)
        ]
    )
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                event=event,
                endpoint=endpoint,
                organization=event.organization,
                retry_until=timezone.now() + timedelta(days=1),
            )
            for event, endpoint in zip(events, endpoints, strict=True)
        ]
    )


def make_reservations(n, tag):
    from datetime import timedelta

    from django.utils import timezone

    orgs = organizations(n, tag)
    Reservation.objects.bulk_create(
        [
            Reservation(organization=org, expires_at=timezone.now() + timedelta(hours=1))
            for org in orgs
        ]
    )


def make_users(n, tag):
    users(n, tag)


def make_groups(n, tag):
    groups = Group.objects.bulk_create([Group(name=f"{tag}-{i}") for i in range(n)])
    view = Permission.objects.filter(codename__startswith="view_")[:3]
    for group in groups:
        group.permissions.set(view)


ROW_FACTORIES = {
    Organization: make_organizations,
    ApiKey: make_api_keys,
    ApiKeyEvent: make_api_key_events,
    CreditTransaction: make_credit_transactions,
    StaffAction: make_staff_actions,
    BulkOrder: make_bulk_orders,
    IdempotencyKey: make_idempotency_keys,
    PhoneNumber: make_phone_numbers,
    NumberPrice: make_number_prices,
    Reservation: make_reservations,
    WebhookEndpoint: make_webhook_endpoints,
    WebhookEvent: make_webhook_events,
    WebhookDelivery: make_webhook_deliveries,
    User: make_users,
    Group: make_groups,
}


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda model: model._meta.label)
def test_each_changelist_page_costs_the_same_queries_for_1_and_100_rows(superuser_client, model):
    assert model in ROW_FACTORIES, (
        f"{model._meta.label} has an admin: add a row factory to ROW_FACTORIES so its "
        "changelist is checked for N+1 queries"
    )
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")

    def queries_for_page():
        cache.clear()  # cached figures (inventory state counts) are recomputed on both pages
        with CaptureQueriesContext(connection) as captured:
            response = superuser_client.get(url)
        assert response.status_code == 200
        return len(captured), len(response.context["cl"].result_list)

    ROW_FACTORIES[model](1, "few")
    few, few_rows = queries_for_page()
    ROW_FACTORIES[model](MANY - 1, "many")
    many, many_rows = queries_for_page()

    assert many_rows > few_rows
    assert many == few, f"{few} queries for {few_rows} row(s), {many} for {many_rows}"
