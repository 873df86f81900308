"""The staff dashboard's 24-hour trends, from the database."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.dashboard_trends import dashboard_trends, percentile
from orders.models import BulkOrder
from tests.support.factories import make_org

pytestmark = pytest.mark.django_db


def order(org, *, status, is_backorder=True, placed_ago, took=None):
    quantity = 4
    failed = {"complete": 0, "partial": 1, "failed": 4, "processing": 0}[status]
    created_at = timezone.now() - placed_ago
    return BulkOrder.objects.create(
        organization=org,
        quantity=quantity,
        number_type="local",
        unit_price_cents=100,
        is_backorder=is_backorder,
        status=status,
        assigned_count=0 if status == "processing" else quantity - failed,
        failed_count=failed,
        created_at=created_at,
        completed_at=created_at + took if took is not None else None,
    )


def test_it_counts_the_orders_of_the_last_24_hours_by_outcome():
    org = make_org("Trends")
    order(
        org, status="complete", is_backorder=False, placed_ago=timedelta(hours=1), took=timedelta()
    )
    order(org, status="complete", placed_ago=timedelta(hours=2), took=timedelta(minutes=3))
    order(org, status="partial", placed_ago=timedelta(hours=3), took=timedelta(minutes=9))
    order(org, status="failed", placed_ago=timedelta(hours=5), took=timedelta(hours=1))
    order(org, status="processing", placed_ago=timedelta(minutes=5))
    order(org, status="complete", placed_ago=timedelta(hours=30), took=timedelta(minutes=1))

    trends = dashboard_trends()

    assert trends["orders"]["total"] == 5  # the one placed 30 hours ago is out of the window
    assert trends["orders"]["by_outcome"] == {
        "filled": 1,
        "complete": 1,
        "partial": 1,
        "failed": 1,
        "processing": 1,
    }
    assert len(trends["orders"]["bars"]) == 5
    completion = trends["completion"]
    assert completion["count"] == 3  # ended backorders only
    assert (completion["p50"], completion["p95"]) == ("9 min", "1.0 h")
    assert [len(series["dots"]) for series in completion["series"]] == [3, 3]


def test_it_draws_empty_charts_without_orders():
    trends = dashboard_trends()

    assert trends["orders"]["total"] == 0 and trends["orders"]["bars"] == []
    assert trends["completion"]["count"] == 0 and trends["completion"]["p50"] is None


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (50.0, 95.0)
    assert percentile([7.0], 0.95) == 7.0


def test_the_trends_cost_two_queries_whatever_the_data_size(django_assert_num_queries):
    org = make_org("Busy")
    for i in range(200):
        order(
            org, status="complete", placed_ago=timedelta(minutes=5 * i), took=timedelta(seconds=i)
        )
    with django_assert_num_queries(2):
        dashboard_trends()
