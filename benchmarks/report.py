"""The benchmark's targets (issue 20), its summary table and its chart."""

from pathlib import Path

# Ratios are against the minimal floor measured in the same run (benchmarks.floor).
TARGETS = {
    "ratio_p50_max": {1: 4.0, 1000: 2.0, 10_000: 2.0},
    "web_cpu_ms_per_order_max": 3.0,  # at quantity 10 (the throughput runs), 8 clients
    "orders_per_s_at_8_min": 300.0,
    "no_collapse_fraction_min": 0.9,  # at 32 and 64 clients, of the best rate of the run
    "search_p99_ms_max": 20.0,
    "owned_page_p99_ms_max": 20.0,
    "backorder_s_max": 10.0,
    # seeding: 1 M numbers in the default run, 10 M (the target) with BENCH_SCALE=10m
    "seed_s_max": {40_000: 60.0, 1_000_000: 60.0, 10_000_000: 300.0},
    "seed_rss_mb_max": 300.0,
}


def _run_name(run: dict) -> str:
    return f"{run['clients']} clients, {'keep-alive' if run['keep_alive'] else 'new conn'}"


def judge(report: dict) -> list[tuple[str, str, str, bool]]:
    """(figure, value, target, passed) rows of the summary table; a row without a target is
    information only."""
    immediate = report["immediate"]
    latency, floor, same = (
        immediate["service"],
        immediate["floor"],
        immediate["floor_same_statements"],
    )
    rows = []
    for q in latency:
        rows.append(
            (
                f"quantity {q}: p50/p95/p99 ms (minimal floor p50/p99; same-statements p50)",
                f"{latency[q]['p50_ms']}/{latency[q]['p95_ms']}/{latency[q]['p99_ms']}"
                f" ({floor[q]['p50_ms']}/{floor[q]['p99_ms']}; {same[q]['p50_ms']})",
                "",
                True,
            )
        )
        limit = TARGETS["ratio_p50_max"].get(q)
        ratio = immediate["ratio_p50"][q]
        rows.append(
            (
                f"quantity {q}: service/floor p50 (p99; same-statements p50)",
                f"{ratio}x ({immediate['ratio_p99'][q]}x; "
                f"{immediate['ratio_p50_same_statements'][q]}x)",
                f"<= {limit}x" if limit else "",
                ratio <= limit if limit else True,
            )
        )
    if "http_floor" in immediate:  # reports before 2026-12-07 have none
        http = immediate["http_floor"]
        rows.append(
            (
                "HTTP floor: GET /healthz p50/p99 ms (gunicorn + middleware, no database)",
                f"{http['p50_ms']}/{http['p99_ms']}",
                "",
                True,
            )
        )
    counts = {q: v["queries"] for q, v in latency.items()}
    rows.append(
        (
            "statements per request by quantity",
            ", ".join(f"{q}: {c}" for q, c in counts.items()),
            "all equal",
            len(set(counts.values())) == 1,
        )
    )
    runs = report["throughput"]
    best = max(run["orders_per_s"] for run in runs)
    for run in runs:
        target, passed = "0 errors", run["errors"] == 0
        if run["clients"] == 8:
            target = f">= {TARGETS['orders_per_s_at_8_min']:.0f}/s, 0 errors"
            passed = passed and run["orders_per_s"] >= TARGETS["orders_per_s_at_8_min"]
        elif run["clients"] >= 32:
            least = TARGETS["no_collapse_fraction_min"] * best
            target = f">= {least:.0f}/s (90% of best {best}), 0 errors"
            passed = passed and run["orders_per_s"] >= least
        p99 = run.get("latency", {}).get("p99_ms", "-")
        rows.append(
            (
                f"throughput {_run_name(run)}: orders/s (errors; p99 ms)",
                f"{run['orders_per_s']}/s ({run['errors']}; {p99})",
                target,
                passed,
            )
        )
        if run["clients"] == 8 and "web_cpu_ms_per_order" in run:
            limit = TARGETS["web_cpu_ms_per_order_max"]
            rows.append(
                (
                    f"CPU ms per order, {_run_name(run)}: web (PostgreSQL)",
                    f"{run['web_cpu_ms_per_order']} ({run['db_cpu_ms_per_order']})",
                    f"web <= {limit}",
                    run["web_cpu_ms_per_order"] <= limit,
                )
            )
    for key in ("integrity", "integrity_after_backorder"):
        if key in report:
            ok = report[key]["ok"]
            rows.append((f"{key} (no number twice, ledger)", "ok" if ok else "BROKEN", "ok", ok))
    searches = dict(report["search"])
    # Reports before 2026-12-07 have no second pass.
    searches.update(
        {f"{name}, after VACUUM": s for name, s in report.get("search_vacuumed", {}).items()}
    )
    for name, search in searches.items():
        rows.append(
            (
                f"search {name}: p50/p99 ms",
                f"{search['p50_ms']}/{search['p99_ms']}",
                f"p99 < {TARGETS['search_p99_ms_max']}",
                search["p99_ms"] < TARGETS["search_p99_ms_max"],
            )
        )
    for name, page in report.get("owned_pages", {}).items():
        rows.append(
            (
                f"owned-number list, {name} page: p50/p99 ms",
                f"{page['p50_ms']}/{page['p99_ms']}",
                f"p99 < {TARGETS['owned_page_p99_ms_max']}",
                page["p99_ms"] < TARGETS["owned_page_p99_ms_max"],
            )
        )
    back = report["backorder"]
    seconds = back["seconds_202_to_complete"]
    rows.append(
        (
            f"backorder {back['quantity']}: 202 -> complete s (numbers/s)",
            f"{seconds} ({back['numbers_per_s']})" if seconds is not None else back["status"],
            f"< {TARGETS['backorder_s_max']}",
            seconds is not None and seconds < TARGETS["backorder_s_max"],
        )
    )
    seed = report["seed"]
    seconds_max = TARGETS["seed_s_max"].get(seed["count"], 60.0)
    rows.append(
        (
            f"seed {seed['count']}: s, peak RSS MB",
            f"{seed['seconds']}, {seed['peak_rss_mb']}",
            f"< {seconds_max:.0f} s, < {TARGETS['seed_rss_mb_max']:.0f} MB",
            seed["seconds"] < seconds_max and seed["peak_rss_mb"] < TARGETS["seed_rss_mb_max"],
        )
    )
    return rows


def print_table(rows, smoke: bool) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(3)]
    for figure, value, target, passed in rows:
        verdict = ("PASS" if passed else "FAIL") if target else ""
        print(f"{figure:<{widths[0]}}  {value:>{widths[1]}}  {target:<{widths[2]}}  {verdict}")
    if smoke:
        print("(smoke run: tiny sizes, the targets are for the full run)")


def draw_chart(report: dict, path: Path) -> None:
    """Six panels, one unit each: latency ms, ratio ×, orders/s, ms at load, search ms, s."""
    import matplotlib

    matplotlib.use("Agg")
    import logging

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(17, 9))
    (latency_ax, ratio_ax, rate_ax), (load_ax, search_ax, seconds_ax) = axes
    immediate = report["immediate"]
    quantities = list(immediate["service"])
    x = range(len(quantities))
    series = (
        ("service", immediate["service"]),
        ("minimal floor", immediate["floor"]),
        ("same-statements floor", immediate["floor_same_statements"]),
    )
    for offset, (name, data) in zip((-0.27, 0, 0.27), series, strict=True):
        p50 = [data[q]["p50_ms"] for q in quantities]
        p99 = [data[q]["p99_ms"] for q in quantities]
        latency_ax.bar([i + offset for i in x], p50, width=0.27, label=f"{name} p50")
        latency_ax.errorbar(
            [i + offset for i in x],
            p50,
            yerr=[[0] * len(p50), [b - a for a, b in zip(p50, p99, strict=True)]],
            fmt="none",
            ecolor="black",
            capsize=3,
        )
    latency_ax.set_yscale("log")
    latency_ax.set_xticks(list(x), [f"q={q}" for q in quantities])
    latency_ax.set_ylabel("ms, log scale (bar p50, whisker p99)")
    latency_ax.set_title("Immediate order vs floors")
    latency_ax.legend(fontsize=8)

    ratio_ax.bar([f"q={q}" for q in quantities], [immediate["ratio_p50"][q] for q in quantities])
    for i, q in enumerate(quantities):
        if q in TARGETS["ratio_p50_max"]:
            ratio_ax.plot([i - 0.4, i + 0.4], [TARGETS["ratio_p50_max"][q]] * 2, "r--")
    ratio_ax.set_ylabel("service p50 / minimal floor p50 (×)")
    ratio_ax.set_title("Ratio to the minimal floor (red: target)")

    runs = report["throughput"]
    for keep_alive, offset in ((False, -0.2), (True, 0.2)):
        mine = [r for r in runs if r["keep_alive"] == keep_alive]
        positions = [i + offset for i in range(len(mine))]
        name = "keep-alive" if keep_alive else "new connection"
        rate_ax.bar(positions, [r["orders_per_s"] for r in mine], width=0.4, label=name)
        load_ax.bar(
            positions,
            [r.get("latency", {}).get("p99_ms", 0) for r in mine],
            width=0.4,
            label=f"{name} p99",
        )
    clients = [str(r["clients"]) for r in runs if not r["keep_alive"]]
    for ax in (rate_ax, load_ax):
        ax.set_xticks(range(len(clients)), clients)
        ax.set_xlabel("concurrent clients (quantity 10)")
    rate_ax.axhline(TARGETS["orders_per_s_at_8_min"], color="red", linestyle="--", label="at 8")
    rate_ax.set_ylabel("orders/s")
    rate_ax.set_title("Throughput")
    rate_ax.legend(fontsize=8)
    load_ax.set_ylabel("ms")
    load_ax.set_title("Latency p99 under load")
    load_ax.legend(fontsize=8)

    searches = {f"search {k}": v for k, v in report["search"].items()}
    searches.update({f"owned {k}": v for k, v in report.get("owned_pages", {}).items()})
    names = list(searches)
    search_ax.barh([f"{n} p99" for n in names], [searches[n]["p99_ms"] for n in names])
    search_ax.barh([f"{n} p50" for n in names], [searches[n]["p50_ms"] for n in names])
    search_ax.axvline(TARGETS["search_p99_ms_max"], color="red", linestyle="--")
    search_ax.set_xlabel("ms")
    search_ax.set_title("Search and owned-number pages")

    seconds = {
        f"backorder {report['backorder']['quantity']}": report["backorder"][
            "seconds_202_to_complete"
        ]
        or 120,
        f"seed {report['seed']['count']}": report["seed"]["seconds"],
    }
    seconds_ax.barh(list(seconds), list(seconds.values()))
    seconds_ax.set_xlabel("s")
    seconds_ax.set_title("Backorder and seeding")
    fig.suptitle(f"{report['machine']['summary']} - {report['finished_at']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
