"""The benchmark's smoke version (BENCH_SMOKE=1: tiny sizes, same code paths), so `make bench`
cannot rot: it starts gunicorn and a Celery worker on its own database, measures everything,
checks integrity and writes the report."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
@pytest.mark.slow
def test_it_runs_the_whole_benchmark_in_smoke_size(tmp_path):
    name = os.environ["DATABASE_URL"].rsplit("/", 1)[-1].split("?")[0]
    env = {
        **os.environ,
        "BENCH_SMOKE": "1",
        "BENCH_RESULTS_DIR": str(tmp_path),
        "BENCH_PORT": str(free_port()),
        "BENCH_DATABASE_NAME": f"{name}_bench_smoke",
        "BENCH_WEB_WORKERS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.harness"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (report_path,) = tmp_path.glob("bench-smoke-*.json")
    report = json.loads(report_path.read_text())
    assert report["integrity"]["ok"] and report["integrity_after_backorder"]["ok"]
    service = report["immediate"]["service"]
    assert set(service) == {"1", "100", "1000", "10000"}
    assert len({run["queries"] for run in service.values()}) == 1
    assert 0 < report["immediate"]["http_floor"]["p50_ms"] < service["1"]["p50_ms"]
    assert all(run["errors"] == 0 for run in report["throughput"])
    assert report["backorder"]["quantity"] == 20
    assert report["seed"]["count"] == 40_000
    assert "PASS" in result.stdout
