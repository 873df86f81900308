from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from config.staff import SUPPORT_GROUP
from orders.dashboard import dashboard_summary
from orders.models import BulkOrder
from phone_numbers.models import PhoneNumber
from tests.support.factories import make_org


def numbers(count, area_code, number_type="local", start=0):
    return [
        PhoneNumber(
            number=f"+1{area_code}555{start + i:04d}", number_type=number_type, area_code=area_code
        )
        for i in range(count)
    ]


def order(org, status, **fields):
    quantity = fields.pop("quantity", 10)
    failed = fields.pop("failed_count", 0 if status in ("processing", "complete") else quantity)
    assigned = 0 if status == "processing" else quantity - failed
    return BulkOrder.objects.create(
        organization=org,
        quantity=quantity,
        number_type="local",
        unit_price_cents=100,
        is_backorder=True,
        status=status,
        assigned_count=assigned,
        failed_count=failed if status != "processing" else 0,
        **fields,
    )


@pytest.mark.django_db
def test_it_summarizes_orders_inventory_and_credit():
    now = timezone.now()
    rich = make_org("Rich", credit_cents=50_000)
    make_org("Poor", credit_cents=300)
    order(rich, "processing", created_at=now - timedelta(minutes=42))
    order(rich, "processing", created_at=now - timedelta(minutes=5))
    order(rich, "failed", completed_at=now - timedelta(hours=1))
    order(rich, "partial", failed_count=4, completed_at=now - timedelta(hours=2))
    order(rich, "failed", completed_at=now - timedelta(hours=30))  # too old to show
    PhoneNumber.objects.bulk_create(
        numbers(30, "415") + numbers(10, "212") + numbers(5, "800", "toll_free")
    )

    summary = dashboard_summary(now=now)

    assert summary["processing_count"] == 2
    assert summary["oldest_processing_wait"] == timedelta(minutes=42)
    assert summary["problem_count"] == 2
    assert [o.status for o in summary["recent_problems"]] == ["failed", "partial"]
    assert summary["available_total"] == 45
    assert [(r["label"], r["count"], r["percent"]) for r in summary["available_by_type"]] == [
        ("Local", 40, 100),
        ("Toll-free", 5, 12),
    ]
    assert [(r["label"], r["count"]) for r in summary["available_by_area_code"]] == [
        ("415", 30),
        ("212", 10),
        ("800", 5),
    ]
    assert [o.name for o in summary["low_credit"]] == ["Poor"]


@pytest.mark.django_db
def test_migrate_creates_the_support_group_with_view_permissions():
    group = Group.objects.get(name=SUPPORT_GROUP)
    codenames = set(group.permissions.values_list("codename", flat=True))

    assert {"view_organization", "view_bulkorder", "view_phonenumber"} <= codenames
    assert "change_numberprice" not in codenames
    assert "delete_organization" not in codenames
