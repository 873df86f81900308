"""The business gauges of /metrics (docs/operations.md), read from each app's selectors when
Prometheus scrapes. config wires them because it is the one layer that sees every app."""

from django.conf import settings

from accounts.selectors import held_credit_total_cents
from api.metrics import register_scrape_gauges
from orders.selectors import processing_orders_summary
from phone_numbers.selectors import available_counts_by_type

GAUGES = {
    "bulk_orders_processing": ("Bulk orders processing (backorders not yet ended).", ()),
    "bulk_order_oldest_processing_age_seconds": (
        "Age of the oldest processing bulk order since its 202; 0 when none is processing.",
        (),
    ),
    "credit_held_cents": (
        "Credit held for processing backorders, over every organization, in cents.",
        (),
    ),
    "phone_numbers_available": (
        "Numbers in inventory available for sale, by number type, counted up to "
        "METRICS_INVENTORY_COUNT_CAP (a type with more reads as the cap).",
        ("number_type",),
    ),
}


def read_gauges() -> dict[str, list]:
    """Four queries, each answered from an index or a small table, whatever the data size
    (docs/operations.md has their plans and timings)."""
    processing, oldest_age = processing_orders_summary()
    return {
        "bulk_orders_processing": [((), processing)],
        "bulk_order_oldest_processing_age_seconds": [((), oldest_age)],
        "credit_held_cents": [((), held_credit_total_cents())],
        "phone_numbers_available": [
            ((number_type,), count)
            for number_type, count in available_counts_by_type(
                cap=settings.METRICS_INVENTORY_COUNT_CAP
            ).items()
        ],
    }


def register() -> None:
    register_scrape_gauges(GAUGES, read_gauges)
