"""The staff dashboard's trend charts: the last 24 hours of bulk orders, hour by hour, drawn as
plain SVG by the template (no script, nothing loaded from elsewhere).

- Orders placed each hour, stacked by how they stand now: filled at once, backorder complete,
  partial, failed, still processing. One GROUP BY over the created_at index.
- Backorder completion time (202 to terminal) of the backorders placed each hour that have
  ended: p50 and p95. The durations are read in one query and the percentiles computed here, the
  same way on PostgreSQL and SQLite; a day holds at most a few thousand backorders.
"""

from datetime import timedelta

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from orders.models import BulkOrder

HOURS = 24
# Geometry of both charts, in SVG user units (the SVG scales to its card).
WIDTH, HEIGHT = 600, 160
LEFT, BOTTOM, TOP = 44, 20, 8
SLOT = (WIDTH - LEFT) / HOURS

# Order of the stack, bottom first, with the colour of each series.
OUTCOMES = [
    ("filled", "Filled at once", "#417690"),
    ("complete", "Backorder complete", "#79aec8"),
    ("partial", "Partial", "#e3a21a"),
    ("failed", "Failed", "#ba2121"),
    ("processing", "Processing", "#999999"),
]
PERCENTILES = [("p50", "p50", "#417690"), ("p95", "p95", "#ba2121")]


def _outcome(status: str, is_backorder: bool) -> str:
    if status == BulkOrder.Status.COMPLETE and not is_backorder:
        return "filled"
    return status


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (what `percentile_disc` returns)."""
    rank = max(int(-(-fraction * len(sorted_values) // 1)), 1)  # ceil, at least the first
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _hours(now):
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    return [start + timedelta(hours=i) for i in range(HOURS)]


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^n at or above value (a readable top for an axis)."""
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


# Readable tops for the duration axis: 1, 2, 5, 10, 15, 30 minutes, 1, 2, 4, 8, 12, 24 hours...
DURATION_TOPS = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 4 * 3600, 8 * 3600, 43200, 86400]


def _duration_ceiling(seconds: float) -> float:
    return next((top for top in DURATION_TOPS if seconds <= top), _nice_ceiling(seconds))


def _axis(top: float, fmt) -> list[dict]:
    plot = HEIGHT - BOTTOM - TOP
    return [
        {"y": round(TOP + plot * (1 - share), 1), "label": fmt(top * share)}
        for share in (0, 0.5, 1)
    ]


def _x_labels(hours) -> list[dict]:
    return [
        {"x": round(LEFT + SLOT * (i + 0.5), 1), "label": hour.strftime("%H:00")}
        for i, hour in enumerate(hours)
        if i % 4 == 1  # every 4 hours, the last one clear of the right edge
    ]


def _seconds_label(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def orders_by_outcome(now) -> dict:
    hours = _hours(now)
    rows = (
        BulkOrder.objects.filter(created_at__gte=hours[0])
        .annotate(hour=TruncHour("created_at"))
        .values_list("hour", "status", "is_backorder")
        .annotate(count=Count("*"))
        .order_by()
    )
    counts = {(hour, outcome): 0 for hour in hours for outcome, _, _ in OUTCOMES}
    for hour, status, is_backorder, count in rows:
        key = (hour, _outcome(status, is_backorder))
        if key in counts:
            counts[key] += count
    totals = [sum(counts[(hour, outcome)] for outcome, _, _ in OUTCOMES) for hour in hours]
    top = _nice_ceiling(max(totals, default=0) or 1)
    plot = HEIGHT - BOTTOM - TOP
    bars = []
    for i, hour in enumerate(hours):
        base = HEIGHT - BOTTOM
        for outcome, label, colour in OUTCOMES:
            count = counts[(hour, outcome)]
            if not count:
                continue
            height = plot * count / top
            base -= height
            bars.append(
                {
                    "x": round(LEFT + SLOT * i + 2, 1),
                    "y": round(base, 1),
                    "width": round(SLOT - 4, 1),
                    "height": round(height, 1),
                    "colour": colour,
                    "title": f"{hour:%H:00} UTC: {count} {label.lower()}",
                }
            )
    return {
        "bars": bars,
        "total": sum(totals),
        "by_outcome": {
            outcome: sum(counts[(hour, outcome)] for hour in hours) for outcome, _, _ in OUTCOMES
        },
        "legend": [{"label": label, "colour": colour} for _, label, colour in OUTCOMES],
        "y_axis": _axis(top, lambda v: f"{v:g}"),
        "x_axis": _x_labels(hours),
    }


def completion_times(now) -> dict:
    hours = _hours(now)
    rows = BulkOrder.objects.filter(
        created_at__gte=hours[0], is_backorder=True, completed_at__isnull=False
    ).values_list("created_at", "completed_at")
    by_hour: dict = {hour: [] for hour in hours}
    everything = []
    for created_at, completed_at in rows:
        seconds = max((completed_at - created_at).total_seconds(), 0.0)
        hour = created_at.replace(minute=0, second=0, microsecond=0)
        if hour in by_hour:
            by_hour[hour].append(seconds)
            everything.append(seconds)
    points = {name: [] for name, _, _ in PERCENTILES}
    peak = 0.0
    for i, hour in enumerate(hours):
        durations = sorted(by_hour[hour])
        if not durations:
            continue
        for name, fraction in (("p50", 0.5), ("p95", 0.95)):
            seconds = percentile(durations, fraction)
            peak = max(peak, seconds)
            points[name].append((i, seconds, hour, len(durations)))
    top = _duration_ceiling(peak or 1)
    plot = HEIGHT - BOTTOM - TOP
    series = []
    for name, label, colour in PERCENTILES:
        dots = [
            {
                "x": round(LEFT + SLOT * (i + 0.5), 1),
                "y": round(TOP + plot * (1 - seconds / top), 1),
                "title": f"{hour:%H:00} UTC: {label} {_seconds_label(seconds)} ({n} backorders)",
            }
            for i, seconds, hour, n in points[name]
        ]
        series.append(
            {
                "label": label,
                "colour": colour,
                "dots": dots,
                "points": " ".join(f"{dot['x']},{dot['y']}" for dot in dots),
            }
        )
    everything.sort()
    return {
        "series": series,
        "count": len(everything),
        "p50": _seconds_label(percentile(everything, 0.5)) if everything else None,
        "p95": _seconds_label(percentile(everything, 0.95)) if everything else None,
        "y_axis": _axis(top, _seconds_label),
        "x_axis": _x_labels(hours),
    }


def dashboard_trends(now=None) -> dict:
    now = now or timezone.now()
    return {
        "orders": orders_by_outcome(now),
        "completion": completion_times(now),
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "baseline": HEIGHT - BOTTOM,
        "label_y": HEIGHT - 4,
    }
