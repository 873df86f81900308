"""Paired A/B of two checkouts of the service, for measuring one change on a shared machine:
both are served side by side by gunicorn on one fresh database (`<name>_ab`, 300,000 numbers)
and requests alternate between them, so both see the same load. Prints p50, p99 and the
slowest of sequential immediate orders (quantity 1, 10, 1000) and orders/s at 8 clients (three
alternated 5 s windows each).

    git worktree add /tmp/base main   # or: git archive main | tar -x -C /tmp/base
    DATABASE_URL=postgres://... .venv/bin/python -m benchmarks.ab /tmp/base

The other checkout runs with this checkout's .venv and this checkout's migrations' database;
compare code changes, not schema changes. To compare a setting instead, pass this checkout
twice and give each side its own variables:

    AB_BASE_ENV="DATABASE_POOL_SIZE=0" AB_THIS_ENV="DATABASE_POOL_SIZE=4" \
        .venv/bin/python -m benchmarks.ab .

Both sides run as the Procfile runs web (benchmarks.harness.procfile_web_args), 2 workers."""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from benchmarks import harness as h


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    base = Path(sys.argv[1]).resolve()
    admin, bench = h.bench_database_urls(os.environ.get("DATABASE_URL", ""))
    bench = bench.replace("_bench", "_ab")
    admin = h.libpq_url(admin)
    h.recreate_database(admin, bench)
    procs = []
    try:
        env = h.service_env(bench)
        h.run_manage(env, "migrate", "--noinput", "-v", "0")
        h.run_manage(env, "seed_inventory", "--count", "300000", "--random-seed", "1")
        with psycopg.connect(h.libpq_url(bench), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE phone_numbers_phonenumber")
        orgs = h.make_organizations(bench, [f"ab-{i}" for i in range(17)])
        secrets = [orgs[f"ab-{i}"][1] for i in range(17)]
        ports = {"base": 9745, "this": 9746}
        for name, src in (("base", base), ("this", h.ROOT)):
            side_env = {**env, "WEB_CONCURRENCY": "2"}
            for item in os.environ.get(f"AB_{name.upper()}_ENV", "").split():
                key, _, value = item.partition("=")
                side_env[key] = value
            procs.append(
                subprocess.Popen(
                    h.procfile_web_args(side_env, ports[name]),
                    cwd=src,
                    env=side_env,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(4)
        for port in ports.values():
            for _ in range(20):
                h.request(port, "POST", "/v1/phone-numbers/bulk", h.bulk_body(1), secrets[16])
        for quantity, runs in ((1, 400), (10, 200), (1000, 20)):
            latencies = {name: [] for name in ports}
            for index in range(runs):
                order = list(ports.items()) if index % 2 else list(ports.items())[::-1]
                for name, port in order:
                    status, _, body, elapsed = h.request(
                        port, "POST", "/v1/phone-numbers/bulk", h.bulk_body(quantity), secrets[16]
                    )
                    if status != 200:
                        raise h.BenchError(f"{name}: {status} {str(body)[:200]}")
                    latencies[name].append(elapsed * 1000)
            print(
                f"quantity {quantity}: "
                + "  ".join(
                    f"{n} p50 {statistics.median(v):.2f} p99 {h.percentile(v, 99):.2f} "
                    f"max {max(v):.2f} ms"
                    for n, v in latencies.items()
                ),
                flush=True,
            )
        sizes = h.Sizes(throughput_seconds=5.0)
        rates = {name: [] for name in ports}
        cpu = {name: [0.0, 0] for name in ports}  # web CPU seconds, orders
        masters = dict(zip(ports, (process.pid for process in procs), strict=True))
        for window in range(3):
            for name in ("base", "this") if window % 2 == 0 else ("this", "base"):
                keys = secrets[:8] if name == "base" else secrets[8:16]
                workers = h.children_of(masters[name])
                before = h.process_cpu_seconds(workers)
                run = h.measure_throughput(ports[name], keys, 8, sizes, [])
                cpu[name][0] += h.cpu_spent(before, h.process_cpu_seconds(workers))
                cpu[name][1] += run["orders"]
                rates[name].append(run["orders_per_s"])
        for name, values in rates.items():
            per_order = cpu[name][0] * 1000 / max(cpu[name][1], 1)
            print(
                f"8 clients {name}: {values} mean {statistics.mean(values):.1f} orders/s, "
                f"web CPU {per_order:.2f} ms/order"
            )
    finally:
        for process in procs:
            process.terminate()
        for process in procs:
            process.wait()
        h.drop_database(admin, bench)
    return 0


if __name__ == "__main__":
    sys.exit(main())
