"""gunicorn.conf.py's worker hook, run in a process of its own (as gunicorn runs it in each
worker, after loading the app), so that freezing the collector does not touch the test process."""

import json
import subprocess
import sys
from pathlib import Path

from tests.support.processes import child_env

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import gc, importlib.util, json, sys
import config.wsgi  # what gunicorn loads before post_worker_init: Django is set up
spec = importlib.util.spec_from_file_location("gunicorn_conf", "gunicorn.conf.py")
conf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conf)
before = "orders.views" in sys.modules
conf.post_worker_init(worker=None)
print(json.dumps({"views_before": before, "views_after": "orders.views" in sys.modules,
                  "frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}))
"""


def test_a_worker_imports_its_views_and_freezes_what_it_loaded():
    result = subprocess.run(
        [sys.executable, "-c", WORKER],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    state = json.loads(result.stdout.strip().splitlines()[-1])

    # The views are imported at start, not by the first request.
    assert state["views_before"] is False
    assert state["views_after"] is True
    # Everything loaded so far is out of the collector's reach: a full collection walks only
    # what requests allocate afterwards.
    assert state["frozen"] > 50_000
    assert state["tracked"] < state["frozen"] / 5
