"""Real processes for the tests that need them: gunicorn and Celery started as the Procfile starts
them, on the test database, each bounded in time.

- `free_port()`: a loopback port nothing listens on (the OS picks one, or the first free one of
  `within`, for tests that must stay in a given range).
- `database_url_of_test_db()`: the DATABASE_URL of the database this test runs on, for a child
  process to reach the same rows.
- `child_env(**overrides)`: this process's environment, the test's SECRET_KEY, and overrides.
- `Gunicorn(...)`: `gunicorn config.wsgi` with the project's ./gunicorn.conf.py (gthread workers,
  header limits, the multiprocess-metrics hook), as the Procfile runs it; `wait_ready()` polls a
  path until it answers, failing with the log if the process dies or the deadline passes.
- `Worker(...)`: `celery -A config worker` (optionally `--beat`, or `-Q celery,webhooks` as in
  the Procfile) on the test database.
- `wait_for(predicate, timeout=..., what=..., processes=[...])`: poll until `predicate()` is truthy;
  on timeout fail with the tail of each process's log.

Every process runs in its own process group (a worker's children die with it): `stop()` sends
SIGTERM and escalates to SIGKILL after a bound; `kill()` is SIGKILL at once (the crash tests);
both are idempotent. `Gunicorn` and `Worker` are context managers (stop on exit).
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import requests
from django.conf import settings

BIN = Path(sys.executable).parent


def free_port(*, within=None, taken=()) -> int:
    """A loopback port free right now: the OS's pick, or the first free one of `within` that is
    not in `taken` (ports handed out but not yet bound)."""
    if within is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    for port in within:
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {within.start}-{within.stop - 1}")


def database_url_of_test_db() -> str:
    db = settings.DATABASES["default"]
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_env(**overrides) -> dict[str, str]:
    """The environment of a child process: ours, the test's SECRET_KEY, then `overrides`."""
    return {
        **os.environ,
        "SECRET_KEY": settings.SECRET_KEY,
        **{key: str(value) for key, value in overrides.items()},
    }


class Process:
    """A command in its own process group, its output in a log file."""

    name = "process"

    def __init__(self, command: list[str], *, env: dict, log_path=None):
        if log_path is None:
            log_path = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log")[1]
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop/kill)
        self.process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self):
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.log.close()

    def stop(self, timeout=15):
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def output(self, tail=6000) -> str:
        if not self.log.closed:
            self.log.flush()
        return f"--- {self.name} log ({self.log_path}) ---\n" + self.log_path.read_text()[-tail:]

    def child_pids(self) -> set[int]:
        """The pids of this process's direct children (gunicorn's or celery's workers)."""
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.add(int(stat.parent.name))
        return children

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Gunicorn(Process):
    """`gunicorn config.wsgi --bind 127.0.0.1:<port> --workers N` with ./gunicorn.conf.py.

    `env` is the whole environment (default `child_env()`: note that DATABASE_URL is then the
    outer one, not the test database; pass `child_env(DATABASE_URL=database_url_of_test_db())`
    when the server must see the test's rows). `options` are extra command-line flags, which win
    over gunicorn.conf.py as in the Procfile."""

    name = "gunicorn"

    def __init__(self, *, workers=1, options=(), env=None, port=None, log_path=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            str(BIN / "gunicorn"), "config.wsgi",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), *options,
        ]  # fmt: skip
        super().__init__(command, env=env or child_env(), log_path=log_path)

    def get(self, path, headers=None, timeout=30) -> tuple[int, str]:
        """(status, body) of a GET on a new connection."""
        response = requests.get(f"{self.url}{path}", headers=headers or {}, timeout=timeout)
        return response.status_code, response.text

    def wait_ready(self, timeout=60, path="/healthz", status=200):
        """Poll `path` until it answers `status`; fail with the log if gunicorn exits or the
        deadline passes. Returns self."""

        def answers():
            assert self.alive(), "gunicorn exited\n" + self.output()
            try:
                return self.get(path, timeout=5)[0] == status
            except requests.RequestException:
                return False

        wait_for(answers, timeout=timeout, what=f"gunicorn to answer {path}", processes=[self])
        return self

    def __enter__(self):
        try:
            return self.wait_ready()
        except BaseException:
            self.stop()
            raise


class Worker(Process):
    """`celery -A config worker` on the test database (`--concurrency 1` unless told; `beat=True`
    runs beat in it; `queues="celery,webhooks"` is the Procfile's line). Keyword arguments are
    environment variables of the worker, e.g. `Worker(SIMULATED_CARRIER_DELAY_SECONDS=1)`."""

    name = "worker"

    def __init__(self, *, beat=False, queues=None, concurrency=1, log_path=None, **env):
        self.schedule = Path(tempfile.mkdtemp()) / "beat-schedule"
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--concurrency", str(concurrency), "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "-n", f"test-{uuid.uuid4().hex[:8]}@%h",
        ]  # fmt: skip
        if queues:
            command += ["-Q", queues]
        if beat:
            command += ["--beat", "--schedule", str(self.schedule)]
        super().__init__(
            command,
            env=child_env(DATABASE_URL=database_url_of_test_db(), **env),
            log_path=log_path,
        )


def wait_for(predicate, *, timeout, what, processes=()):
    """`predicate()`'s first truthy value, polled every 0.2 s for up to `timeout` seconds; then
    an AssertionError naming `what`, with the tail of each process's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    logs = "\n".join(process.output() for process in processes)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")
