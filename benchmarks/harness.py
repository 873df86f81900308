"""The benchmark: a fresh PostgreSQL database next to DATABASE_URL's, seeded with
`seed_inventory`, the real stack (gunicorn + a Celery worker) started on it, six measurements
taken over HTTP, the floor taken with psycopg in the same run, then integrity checks, a JSON
report, a PNG chart and a summary table. See docs/benchmarks.md.

Run with `make bench` (BENCH_SMOKE=1 for the few-second version)."""

import http.client
import json
import os
import platform
import random
import re
import resource
import shlex
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from benchmarks import floor as floors
from benchmarks import scale
from benchmarks.report import draw_chart, judge, print_table

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BIN = Path(sys.executable).parent
QUERY_COUNT_HEADER = "X-Bench-Query-Count"


@dataclass(frozen=True)
class Sizes:
    inventory: int = 1_000_000
    # sequential requests per quantity (after WARMUP), for the service and for the floor
    runs: dict = field(default_factory=lambda: {1: 300, 100: 100, 1000: 30, 10_000: 10})
    warmup: int = 5
    throughput_clients: tuple = (1, 8, 32, 64)
    throughput_quantity: int = 10
    throughput_seconds: float = 10.0
    search_runs: int = 500
    backorder_quantity: int = 10_000
    # BENCH_SCALE=10m only: how many of the numbers are assigned before the runs, to how many
    # organizations, and how many of them the one whose owned-number list is paged holds.
    assigned: int = 0
    owners: int = 0
    big_owner_numbers: int = 0
    owned_page_runs: int = 200


FULL = Sizes()
# BENCH_SCALE=10m: 10 M numbers, 9 M of them owned by 1,000 organizations (one holds 1 M).
SCALE_10M = Sizes(
    inventory=10_000_000,
    assigned=9_000_000,
    owners=1_000,
    big_owner_numbers=1_000_000,
)
SMOKE = Sizes(
    # The service and the floor each take (warmup + runs) × quantity numbers: ~23,000 here
    # (no warmup, so that quantity 10,000 is measured without seeding twice as many).
    inventory=40_000,
    runs={1: 10, 100: 5, 1000: 1, 10_000: 1},
    warmup=0,
    throughput_clients=(1, 4),
    throughput_seconds=0.5,
    search_runs=10,
    backorder_quantity=20,
)


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values, p: float) -> float:
    """Nearest-rank percentile (p in 0-100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
    }


# --- the database -------------------------------------------------------------------------------


def bench_database_urls(database_url: str) -> tuple[str, str]:
    """(the URL to administer from, the URL of the benchmark's own database `<name>_bench`).
    The benchmark creates and drops its own database from the `postgres` maintenance database,
    so the database DATABASE_URL names need not exist."""
    parts = urlsplit(database_url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise BenchError(f"DATABASE_URL must be a postgres:// URL, not {parts.scheme}://")
    name = parts.path.lstrip("/") or "postgres"
    bench_name = os.environ.get("BENCH_DATABASE_NAME") or f"{name}_bench"
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    bench = urlunsplit(("postgres", parts.netloc, "/" + bench_name, parts.query, ""))
    return admin, bench


def libpq_url(url: str) -> str:
    return "postgresql" + url[url.index(":") :]


def recreate_database(admin_url: str, bench_url: str) -> None:
    name = urlsplit(bench_url).path.lstrip("/")
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise BenchError(
            f"cannot create the benchmark database {name!r} (the DATABASE_URL role needs "
            f"CREATEDB and access to the 'postgres' database): {exc}"
        ) from exc


def drop_database(admin_url: str, bench_url: str) -> None:
    name = urlsplit(bench_url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- processes ----------------------------------------------------------------------------------


def service_env(bench_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=bench_url,
        DEBUG="0",
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-only-secret-key",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        BENCH_QUERY_COUNT="1",
        SIMULATED_CARRIER_DELAY_SECONDS="0",
        SIMULATED_CARRIER_FAILURE_RATE="0",
        SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES="",
        # The rate limit would turn the throughput runs into 429s: the benchmark measures the
        # service's capacity, not its limits (0 turns the limit off). BENCH_EXTRA_ENV adds more.
        RATE_LIMIT_WRITES_PER_MINUTE="0",
        WEBHOOKS_ALLOW_PRIVATE_TARGETS="0",
    )
    for item in filter(None, os.environ.get("BENCH_EXTRA_ENV", "").split()):
        name, _, value = item.partition("=")
        env[name] = value
    return env


def run_manage(env: dict, *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True)


def measure_seed(env: dict, count: int) -> dict:
    """Measurement 6: wall time and peak RSS of `seed_inventory --count N` (its own process)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [PY, "manage.py", "seed_inventory", "--count", str(count), "--random-seed", "42"],
        cwd=ROOT,
        env=env,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise BenchError(f"seed_inventory exited {process.returncode}")
    return {
        "count": count,
        "seconds": round(elapsed, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
    }


def procfile_web_args(env: dict, port: int) -> list[str]:
    """The Procfile's `web:` command as the platform would run it (its worker class, threads,
    keep-alive; gunicorn.conf.py is read as well), with ${NAME:-default} expanded from `env`
    and the bind address moved to 127.0.0.1:port."""
    line = next(
        line.removeprefix("web:").strip()
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    line = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), line)
    args = shlex.split(line)
    args[args.index("--bind") + 1] = f"127.0.0.1:{port}"
    args[0] = str(BIN / args[0])
    return [*args, "--backlog", "2048"]


class Stack:
    """gunicorn, started as the Procfile starts it, and a Celery worker on the benchmark
    database; logs under results/logs/."""

    def __init__(self, env: dict, port: int, web_workers: int, log_dir: Path):
        self.env, self.port, self.web_workers, self.log_dir = env, port, web_workers, log_dir
        self.processes: list[subprocess.Popen] = []

    def _start(self, name: str, args: list[str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
        )
        process.log_file = out
        self.processes.append(process)

    def __enter__(self):
        env = {**self.env, "WEB_CONCURRENCY": str(self.web_workers)}
        self.web_args = procfile_web_args(env, self.port)
        self._start("web", self.web_args)
        self._start(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--loglevel",
                "WARNING",
                "--concurrency",
                "2",
            ],
        )
        # Generous: on a loaded shared machine four gunicorn workers took over a minute to boot.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise BenchError(f"{process.args[0]} exited; see {self.log_dir}")
            try:
                # /healthz: the web process is up (the worker is needed only by the last
                # measurement, and boots meanwhile).
                status, _, _, _ = request(self.port, "GET", "/healthz")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise BenchError(f"the stack did not become ready; see {self.log_dir}")

    def __exit__(self, *exc):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.log_file.close()


# --- HTTP ---------------------------------------------------------------------------------------


def request(port: int, method: str, path: str, body=None, secret=None, conn=None):
    """One request, on a fresh connection (closed after it) or on `conn`, a kept-alive
    http.client.HTTPConnection (left open). Returns (status, headers, parsed body, seconds);
    the seconds include connecting when the connection is new."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    payload = json.dumps(body).encode() if body is not None else None
    started = time.perf_counter()
    fresh = conn is None
    if fresh:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - started
        return response.status, dict(response.getheaders()), json.loads(raw or b"null"), elapsed
    except Exception:
        conn.close()  # a kept-alive connection in an unknown state is not reused
        raise
    finally:
        if fresh:
            conn.close()


# --- fixtures -----------------------------------------------------------------------------------


def make_organizations(bench_url: str, names: list[str]) -> dict[str, tuple[str, str]]:
    """name -> (organization id, API key secret), created through the services."""
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    import django

    django.setup()
    from django.db import connection

    from accounts import scopes
    from accounts.services import api_key_create, organization_create

    made = {}
    for name in names:
        organization = organization_create(name=name, credit_cents=10**11)
        _, secret = api_key_create(organization=organization, scopes=scopes.ALL, label="bench")
        made[name] = (str(organization.id), secret)
    connection.close()
    return made


# --- measurements -------------------------------------------------------------------------------


def bulk_body(quantity: int, number_type: str = "local") -> dict:
    return {"quantity": quantity, "number_type": number_type}


def warm_up(port, secret, web_workers: int, returned: list) -> None:
    """Every gunicorn worker imports and builds its views lazily on its first requests: send
    a few rounds of concurrent requests so no measured request pays for that."""

    def one():
        status, _, body, _ = request(port, "POST", "/v1/phone-numbers/bulk", bulk_body(1), secret)
        if status == 200:
            returned.extend(body["data"]["assigned_numbers"])
        request(port, "POST", "/v1/phone-numbers/search", {"pattern": "123"}, secret)
        request(port, "GET", "/v1/phone-numbers/bulk", None, secret)

    for _ in range(3):
        threads = [threading.Thread(target=one) for _ in range(2 * web_workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def measure_immediate(port, secret, bench_url, floor_org_id, sizes: Sizes, returned: list):
    """Measurements 1 and 2: sequential immediate orders per quantity through the service and,
    interleaved with them (so all see the same inventory and the same machine load), the two
    floors of benchmarks.floor. The query count comes from the server (X-Bench-Query-Count).
    Also interleaved: GET /healthz, the HTTP floor (a new connection, gunicorn and Django's
    whole middleware stack; no database, no DRF): the part of the service's latency that no
    change to the order path can remove."""
    service, minimal, same, http_floor = {}, {}, {}, []
    with psycopg.connect(libpq_url(bench_url)) as conn:
        for quantity, runs in sizes.runs.items():
            latencies, minimal_latencies, same_latencies, counts = [], [], [], []
            for index in range(sizes.warmup + runs):
                status, headers, body, elapsed = request(
                    port, "POST", "/v1/phone-numbers/bulk", bulk_body(quantity), secret
                )
                if status != 200 or len(body["data"]["assigned_numbers"]) != quantity:
                    raise BenchError(f"bulk quantity {quantity}: {status} {str(body)[:300]}")
                returned.extend(body["data"]["assigned_numbers"])
                started = time.perf_counter()
                floors.minimal_order(conn, quantity)  # its own table: not in `returned`
                minimal_elapsed = time.perf_counter() - started
                started = time.perf_counter()
                returned.extend(floors.same_statements_order(conn, floor_org_id, quantity))
                same_elapsed = time.perf_counter() - started
                status, _, _, http_elapsed = request(port, "GET", "/healthz")
                if status != 200:
                    raise BenchError(f"GET /healthz: {status}")
                if index >= sizes.warmup:
                    http_floor.append(http_elapsed)
                    latencies.append(elapsed)
                    minimal_latencies.append(minimal_elapsed)
                    same_latencies.append(same_elapsed)
                    counts.append(int(headers[QUERY_COUNT_HEADER]))
            # The usual count, and every count seen: a key's first request in a minute also
            # records last_used_at (one more UPDATE), whatever the quantity.
            service[quantity] = {
                **summary_ms(latencies),
                "queries": statistics.mode(counts),
                "queries_seen": sorted(set(counts)),
            }
            minimal[quantity] = summary_ms(minimal_latencies)
            same[quantity] = summary_ms(same_latencies)

    def ratios(floor, key):
        return {q: round(service[q][key] / floor[q][key], 2) for q in service}

    return {
        "service": service,
        "floor": minimal,
        "floor_same_statements": same,
        "http_floor": summary_ms(http_floor),
        "ratio_p50": ratios(minimal, "p50_ms"),
        "ratio_p99": ratios(minimal, "p99_ms"),
        "ratio_p50_same_statements": ratios(same, "p50_ms"),
    }


def process_cpu_seconds(pids) -> dict[int, float]:
    """pid -> user + system CPU seconds so far (Linux /proc); vanished ones are left out."""
    tick = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return seconds


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two process_cpu_seconds samples by the processes alive at the
    second (a process that started meanwhile counts whole; one that ended is lost)."""
    return sum(total - before.get(pid, 0.0) for pid, total in after.items())


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


def service_pids(web_master: int, bench_url: str) -> tuple[list[int], list[int]]:
    """(gunicorn worker pids, PostgreSQL backend pids serving the benchmark database)."""
    name = urlsplit(bench_url).path.lstrip("/")
    with psycopg.connect(libpq_url(bench_url)) as conn:
        backends = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
        ]
    return children_of(web_master), backends


def measure_throughput(
    port, secrets: list[str], clients: int, sizes: Sizes, returned: list, keep_alive=False
):
    """Measurement 3: `clients` threads, each its own organization, ordering quantity 10 as
    fast as they can for throughput_seconds; each on a new TCP connection per request, or
    (keep_alive) on one connection it keeps open."""
    stop_at = time.perf_counter() + sizes.throughput_seconds
    lock = threading.Lock()
    ok, errors, latencies, error_samples = [0], [0], [], []

    def client(secret):
        mine, my_latencies, my_errors = [], [], 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60) if keep_alive else None
        while time.perf_counter() < stop_at:
            try:
                status, _, body, elapsed = request(
                    port,
                    "POST",
                    "/v1/phone-numbers/bulk",
                    bulk_body(sizes.throughput_quantity),
                    secret,
                    conn=conn,
                )
            except OSError as exc:
                my_errors += 1
                with lock:
                    error_samples.append(repr(exc))
                continue
            if status == 200:
                mine.extend(body["data"]["assigned_numbers"])
                my_latencies.append(elapsed)
            else:
                my_errors += 1
                with lock:
                    error_samples.append(f"{status} {str(body)[:200]}")
        if conn is not None:
            conn.close()
        with lock:
            ok[0] += len(my_latencies)
            errors[0] += my_errors
            latencies.extend(my_latencies)
            returned.extend(mine)

    threads = [threading.Thread(target=client, args=(s,)) for s in secrets[:clients]]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "keep_alive": keep_alive,
        "seconds": round(elapsed, 2),
        "orders": ok[0],
        "orders_per_s": round(ok[0] / elapsed, 1),
        "errors": errors[0],
        "error_samples": error_samples[:5],
        **({"latency": summary_ms(latencies)} if latencies else {}),
    }


# Measurement 4: name -> criteria beside number_type, drawn from a random generator. The default
# run measures these; BENCH_SCALE=10m adds SCALE_SEARCHES.
VANITY_WORDS = ("CALL", "CASH", "TAXI", "HOME", "BEST", "SHOP", "FOOD", "LOAN", "CARS", "DENT")
SEARCHES = {
    "3-digit pattern": lambda rng: {"pattern": f"{rng.randrange(1000):03d}"},
    # API.md §2.1 r2: where the digits sit, and a word spelt on the keypad (no area code).
    "starts_with 3 digits": lambda rng: {"starts_with": f"{rng.randrange(200, 1000):03d}"},
    "ends_with 4 digits": lambda rng: {"ends_with": f"{rng.randrange(10000):04d}"},
    "vanity word": lambda rng: {"ends_with": rng.choice(VANITY_WORDS)},
}
SCALE_SEARCHES = {
    **SEARCHES,
    "1-digit pattern": lambda rng: {"pattern": str(rng.randrange(10))},
    "2-digit pattern": lambda rng: {"pattern": f"{rng.randrange(100):02d}"},
    "7-digit pattern": lambda rng: {"pattern": f"{rng.randrange(2_000_000, 10_000_000)}"},
    "area code": lambda rng: {"area_code": rng.choice(["212", "415", "646", "917", "312"])},
    "area code + 4-digit pattern": lambda rng: {
        "area_code": rng.choice(["212", "415", "646"]),
        "pattern": f"{rng.randrange(10_000):04d}",
    },
}


def measure_search(port, secret, sizes: Sizes, searches: dict) -> dict:
    """Measurement 4: POST /v1/phone-numbers/search, each kind of criteria search_runs times."""
    result = {}
    for name, criteria_of in searches.items():
        rng = random.Random(7)
        latencies, rows = [], []
        for index in range(sizes.warmup + sizes.search_runs):
            criteria = criteria_of(rng)
            status, _, body, elapsed = request(
                port, "POST", "/v1/phone-numbers/search", criteria, secret
            )
            if status != 200:
                raise BenchError(f"search {criteria}: {status} {str(body)[:300]}")
            if index >= sizes.warmup:
                latencies.append(elapsed)
                rows.append(len(body["data"]))
        result[name] = {**summary_ms(latencies), "mean_rows": statistics.mean(rows)}
    return result


def measure_backorder(port, secret, sizes: Sizes) -> dict:
    """Measurement 5: a toll-free order (inventory holds none) is backordered; time from the
    202 to `complete`, polling GET every 10 ms."""
    quantity = sizes.backorder_quantity
    status, headers, body, _ = request(
        port, "POST", "/v1/phone-numbers/bulk", bulk_body(quantity, "toll_free"), secret
    )
    if status != 202:
        raise BenchError(f"backorder: expected 202, got {status} {str(body)[:300]}")
    accepted = time.perf_counter()
    location = headers["Location"]
    deadline = accepted + 120
    while True:
        status, _, body, _ = request(port, "GET", location, None, secret)
        if status != 200:
            raise BenchError(f"backorder poll: {status} {str(body)[:300]}")
        if body["data"]["status"] != "processing":
            break
        if time.perf_counter() > deadline:
            # A figure, not an abort: the report keeps everything measured before it.
            log("backorder still processing after 120 s")
            return {
                "quantity": quantity,
                "seconds_202_to_complete": None,
                "numbers_per_s": None,
                "status": f"processing after 120 s ({body['data']['assigned_count']} assigned)",
            }
        time.sleep(0.01)
    elapsed = time.perf_counter() - accepted
    data = body["data"]
    if data["status"] != "complete" or data["assigned_count"] != quantity:
        raise BenchError(f"backorder ended {data['status']} with {data['assigned_count']}")
    return {
        "quantity": quantity,
        "seconds_202_to_complete": round(elapsed, 3),
        "numbers_per_s": round(quantity / elapsed, 1),
    }


INTEGRITY_SQL = {
    "numbers_assigned_twice": (
        "SELECT count(*) FROM (SELECT number FROM phone_numbers_phonenumber "
        "GROUP BY number HAVING count(*) > 1) AS d"
    ),
    "assigned_without_owner": (
        "SELECT count(*) FROM phone_numbers_phonenumber "
        "WHERE state = 'assigned' AND organization_id IS NULL"
    ),
    "orders_whose_count_differs_from_their_numbers": (
        "SELECT count(*) FROM orders_bulkorder b WHERE b.assigned_count <> "
        "(SELECT count(*) FROM phone_numbers_phonenumber p WHERE p.order_id = b.id)"
    ),
    "organizations_whose_balance_differs_from_ledger": (
        "SELECT count(*) FROM accounts_organization o WHERE o.balance_cents <> "
        "(SELECT coalesce(sum(amount_cents), 0) FROM accounts_credittransaction t "
        "WHERE t.organization_id = o.id) OR o.held_cents <> "
        "(SELECT coalesce(sum(held_change_cents), 0) FROM accounts_credittransaction t "
        "WHERE t.organization_id = o.id)"
    ),
    "organizations_charged_differently_from_their_numbers": (
        # BENCH_SCALE=10m: the fixture's owners hold numbers nobody sold them (benchmarks.scale)
        f"SELECT count(*) FROM accounts_organization o WHERE o.name NOT LIKE "
        f"'{scale.FIXTURE_OWNER_PREFIX}%%' AND "
        "(SELECT coalesce(-sum(amount_cents), 0) FROM accounts_credittransaction t "
        "WHERE t.organization_id = o.id AND t.kind = 'charge') <> "
        "(SELECT coalesce(sum(pr.price_cents), 0) FROM phone_numbers_phonenumber p "
        "JOIN phone_numbers_numberprice pr ON pr.number_type = p.number_type "
        "WHERE p.organization_id = o.id)"
    ),
}


def check_integrity(bench_url: str, returned: list[str]) -> dict:
    """After the runs: every count must be 0, and no number was handed to two orders."""
    result = {"numbers_returned_twice": len(returned) - len(set(returned))}
    with psycopg.connect(libpq_url(bench_url)) as conn:
        for name, sql in INTEGRITY_SQL.items():
            result[name] = conn.execute(sql).fetchone()[0]
        assigned = conn.execute(
            "SELECT count(*) FROM phone_numbers_phonenumber WHERE state = 'assigned'"
        ).fetchone()[0]
    result["returned_numbers_missing_from_assigned"] = max(0, len(set(returned)) - assigned)
    result["ok"] = all(value == 0 for value in result.values())
    result["numbers_assigned"] = assigned
    return result


def machine_info(bench_url: str) -> dict:
    with psycopg.connect(libpq_url(bench_url)) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        # What the figures depend on beyond the machine: with autovacuum off, the row versions
        # that sales leave behind stay in the indexes for the whole run (migration
        # phone_numbers 0012); shared_buffers bounds what stays cached at 10 M numbers.
        server = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("autovacuum", "shared_buffers")
        }
    memory_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    cores = os.cpu_count()
    memory_gb = round(memory_kb / 1024 / 1024, 1)
    load = os.getloadavg()
    return {
        "nproc": cores,
        "memory_gb": memory_gb,
        "postgresql": version,
        "postgresql_settings": server,
        "python": platform.python_version(),
        "load_average_at_start": [round(v, 2) for v in load],
        "summary": (
            f"{cores} cores, {memory_gb} GB, PostgreSQL {version} (autovacuum "
            f"{server['autovacuum']}, shared_buffers {server['shared_buffers']})"
        ),
    }


def measure_throughput_with_cpu(stack, bench_url, secrets, clients, sizes, returned, keep_alive):
    """measure_throughput, and the CPU the web workers and the PostgreSQL backends spent per
    order meanwhile (from /proc): on `nproc` cores, nproc / (their sum) is the most orders per
    second the machine can do."""
    web_pids, db_pids = service_pids(stack.processes[0].pid, bench_url)
    web_cpu, db_cpu = process_cpu_seconds(web_pids), process_cpu_seconds(db_pids)
    client_cpu = time.process_time()  # this process: the load generator
    run = measure_throughput(stack.port, secrets, clients, sizes, returned, keep_alive)
    client_cpu = time.process_time() - client_cpu
    web_pids, db_pids = service_pids(stack.processes[0].pid, bench_url)
    if run["orders"]:
        per_order = 1000 / run["orders"]
        web_cpu = cpu_spent(web_cpu, process_cpu_seconds(web_pids))
        db_cpu = cpu_spent(db_cpu, process_cpu_seconds(db_pids))
        run["web_cpu_ms_per_order"] = round(web_cpu * per_order, 2)
        run["db_cpu_ms_per_order"] = round(db_cpu * per_order, 2)
        run["client_cpu_ms_per_order"] = round(client_cpu * per_order, 2)
    log(
        f"  {clients} clients{' keep-alive' if keep_alive else ''}: {run['orders_per_s']}/s, "
        f"{run['errors']} errors, web CPU {run.get('web_cpu_ms_per_order')} ms/order"
    )
    return run


def prepare_scale_fixture(bench_url: str, sizes: Sizes) -> tuple[dict, str, str]:
    """BENCH_SCALE=10m: the organizations and the 9 M assigned numbers (benchmarks.scale).
    Returns (timing, the key secret and id of the organization holding big_owner_numbers)."""
    started = time.perf_counter()
    log(f"fixture: {sizes.assigned} numbers owned by {sizes.owners} organizations")
    owners = make_organizations(
        bench_url, [f"{scale.FIXTURE_OWNER_PREFIX}{i}" for i in range(sizes.owners)]
    )
    owner_ids = [org_id for org_id, _ in owners.values()]  # in creation order: [0] is the big one
    scale.assign_fixture(bench_url, owner_ids, sizes.assigned, sizes.big_owner_numbers)
    with psycopg.connect(libpq_url(bench_url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE phone_numbers_phonenumber")
    big_id, big_secret = owners[f"{scale.FIXTURE_OWNER_PREFIX}0"]
    timing = {"seconds": round(time.perf_counter() - started, 1), "owners": len(owners)}
    return timing, big_secret, big_id


# --- main ---------------------------------------------------------------------------------------


def main() -> int:
    smoke = os.environ.get("BENCH_SMOKE", "0") not in ("", "0")
    scale_name = os.environ.get("BENCH_SCALE", "")
    if scale_name not in ("", "10m"):
        print(f"BENCH_SCALE must be 10m or unset, not {scale_name!r}", file=sys.stderr)
        return 2
    sizes = SMOKE if smoke else SCALE_10M if scale_name else FULL
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        print(
            "make bench needs PostgreSQL: set DATABASE_URL=postgres://user@host:5432/name "
            "(the benchmark creates and drops its own database <name>_bench next to it).",
            file=sys.stderr,
        )
        return 2
    port = int(os.environ.get("BENCH_PORT", "9700"))
    web_workers = int(os.environ.get("BENCH_WEB_WORKERS") or 2 * (os.cpu_count() or 1))
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or ROOT / "benchmarks" / "results")
    results_dir.mkdir(parents=True, exist_ok=True)
    admin_url, bench_url = bench_database_urls(database_url)
    admin_url = libpq_url(admin_url)
    keep = os.environ.get("BENCH_KEEP_DATABASE", "0") not in ("", "0")

    report = {"smoke": smoke, "sizes": asdict(sizes), "web_workers": web_workers}
    report["started_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    log(f"fresh database {urlsplit(bench_url).path.lstrip('/')}; migrating")
    recreate_database(admin_url, bench_url)
    try:
        env = service_env(bench_url)
        report["machine"] = machine_info(bench_url)
        run_manage(env, "migrate", "--noinput", "-v", "0")
        log(f"seeding {sizes.inventory} numbers (measurement 6)")
        report["seed"] = measure_seed(env, sizes.inventory)
        with psycopg.connect(libpq_url(bench_url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE phone_numbers_phonenumber")
        with psycopg.connect(libpq_url(bench_url)) as conn:
            floors.prepare_minimal(conn)
        clients = max(sizes.throughput_clients)
        names = ["latency", "floor", "search", "backorder"] + [
            f"client-{i}" for i in range(clients)
        ]
        orgs = make_organizations(bench_url, names)
        if sizes.assigned:
            report["scale_fixture"], big_owner_secret, big_owner_id = prepare_scale_fixture(
                bench_url, sizes
            )
        returned: list[str] = []
        log(f"starting gunicorn ({web_workers} workers) and a Celery worker on port {port}")
        with Stack(env, port, web_workers, results_dir / "logs") as stack:
            report["web_command"] = " ".join(stack.web_args)
            warm_up(port, orgs["search"][1], web_workers, returned)
            log("measurements 1-2: sequential immediate orders, and the two floors")
            report["immediate"] = measure_immediate(
                port, orgs["latency"][1], bench_url, orgs["floor"][0], sizes, returned
            )
            log("measurement 3: throughput, new connections and keep-alive")
            secrets = [orgs[f"client-{i}"][1] for i in range(clients)]
            report["throughput"] = [
                measure_throughput_with_cpu(
                    stack, bench_url, secrets, n, sizes, returned, keep_alive=keep_alive
                )
                for keep_alive in (False, True)
                for n in sizes.throughput_clients
            ]
            report["integrity"] = check_integrity(bench_url, returned)
            log("measurement 4: search")
            searches = SCALE_SEARCHES if sizes.assigned else SEARCHES
            report["search"] = measure_search(port, orgs["search"][1], sizes, searches)
            # The runs above sold hundreds of thousands of numbers, and their old row versions
            # stay in the indexes until VACUUM (a contains search reads each one's heap page:
            # migration phone_numbers 0012). In production autovacuum removes them after 1 % of
            # the table changed; here it may be off (report["machine"]). So search again on the
            # vacuumed table: the two passes bound what a search costs between two autovacuums.
            log("measurement 4b: search again after VACUUM")
            with psycopg.connect(libpq_url(bench_url), autocommit=True) as conn:
                conn.execute("VACUUM phone_numbers_phonenumber")
            report["search_vacuumed"] = measure_search(port, orgs["search"][1], sizes, searches)
            if sizes.assigned:
                log("owned-number list of the organization holding 1 M numbers")
                report["owned_pages"] = scale.measure_owned_pages(
                    request,
                    port,
                    big_owner_secret,
                    scale.tenth_thousand_page_cursor(bench_url, big_owner_id),
                    sizes.owned_page_runs,
                    summary_ms,
                )
            log("measurement 5: backorder")
            report["backorder"] = measure_backorder(port, orgs["backorder"][1], sizes)
        report["integrity_after_backorder"] = check_integrity(bench_url, returned)
    finally:
        if not keep:
            drop_database(admin_url, bench_url)
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    report["harness_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    rows = judge(report)
    report["targets"] = [
        {"figure": f, "value": v, "target": t, "pass": p} for f, v, t, p in rows if t
    ]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"bench-{'smoke-' if smoke else ''}{scale_name + '-' if scale_name else ''}{stamp}"
    (results_dir / f"{name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    try:
        draw_chart(report, results_dir / f"{name}.png")
    except ImportError:
        log("matplotlib is not installed (uv sync --group bench): no chart")
    print()
    print_table(rows, smoke)
    print(f"\nreport: {results_dir / (name + '.json')} (+ .png)")
    integrity_ok = report["integrity"]["ok"] and report["integrity_after_backorder"]["ok"]
    errors = sum(run["errors"] for run in report["throughput"])
    if not integrity_ok or errors:
        print("FAILED: integrity broken or requests failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:  # a clear line, not a traceback, for what the user can fix
        print(f"make bench: {exc}", file=sys.stderr)
        sys.exit(1)
