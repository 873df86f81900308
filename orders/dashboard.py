"""What support staff see first: the state of orders, inventory and credit at a glance. Every
figure is one aggregate query; none grows with the number of rows shown."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Min
from django.utils import timezone

from accounts.models import Organization
from orders.dashboard_trends import dashboard_trends
from orders.models import BulkOrder
from phone_numbers.models import NumberType, PhoneNumber

TOP_AREA_CODES = 10
RECENT_PROBLEMS_SHOWN = 10


def _bars(rows, label_key):
    """Rows with a `count` -> the same rows with a bar width in percent of the largest."""
    peak = max((row["count"] for row in rows), default=0) or 1
    return [
        {**row, "label": row[label_key], "percent": round(100 * row["count"] / peak)}
        for row in rows
    ]


def dashboard_summary(now=None) -> dict:
    now = now or timezone.now()
    processing = BulkOrder.objects.filter(status=BulkOrder.Status.PROCESSING).aggregate(
        count=Count("id"), oldest=Min("created_at")
    )
    problems = BulkOrder.objects.filter(
        status__in=[BulkOrder.Status.PARTIAL, BulkOrder.Status.FAILED],
        completed_at__gte=now - timedelta(hours=24),
    )
    available = PhoneNumber.objects.filter(state=PhoneNumber.State.AVAILABLE)
    by_type = list(
        available.values("number_type").annotate(count=Count("id")).order_by("number_type")
    )
    by_area_code = list(
        available.values("area_code")
        .annotate(count=Count("id"))
        .order_by("-count", "area_code")[:TOP_AREA_CODES]
    )
    threshold = settings.LOW_CREDIT_THRESHOLD_CENTS
    low_credit = list(
        Organization.objects.annotate(available=F("balance_cents") - F("held_cents"))
        .filter(available__lt=threshold)
        .order_by("available", "name")[:10]
    )
    return {
        "processing_count": processing["count"],
        "oldest_processing_since": processing["oldest"],
        "oldest_processing_wait": (now - processing["oldest"]) if processing["oldest"] else None,
        "problem_count": problems.count(),
        "recent_problems": list(
            problems.select_related("organization").order_by("-completed_at")[
                :RECENT_PROBLEMS_SHOWN
            ]
        ),
        "available_by_type": _bars(
            [{**row, "number_type": NumberType(row["number_type"]).label} for row in by_type],
            "number_type",
        ),
        "available_by_area_code": _bars(by_area_code, "area_code"),
        "available_total": sum(row["count"] for row in by_type),
        "low_credit_threshold_cents": threshold,
        "low_credit": low_credit,
        "trends": dashboard_trends(now),
    }
