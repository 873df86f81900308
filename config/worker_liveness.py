"""Worker liveness for an orchestrator: a heartbeat file the worker touches from its event loop,
and a check that fails when the file is stale.

    python -m config.worker_liveness    # exit 0: alive; 1: no heartbeat for MAX_AGE seconds

The file is touched by the worker's own timer (the loop that also consumes messages), so a
wedged worker goes stale. It says nothing about the broker: a worker waiting for a broker that
is down is alive (restarting it would not help); /readyz reports the broker."""

import os
import sys
import time
from pathlib import Path

from celery import bootsteps

TOUCH_EVERY_SECONDS = 5.0


class HeartbeatFile(bootsteps.StartStopStep):
    """Worker bootstep: touch settings.CELERY_WORKER_HEARTBEAT_FILE every few seconds."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        from django.conf import settings

        path = Path(settings.CELERY_WORKER_HEARTBEAT_FILE)
        path.parent.mkdir(parents=True, exist_ok=True)

        def touch():
            path.touch()

        touch()
        self.tref = worker.timer.call_repeatedly(TOUCH_EVERY_SECONDS, touch)

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()


def heartbeat_age(path: Path) -> float | None:
    """Seconds since the worker last touched `path`, None when it never did."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    path = Path(settings.CELERY_WORKER_HEARTBEAT_FILE)
    age = heartbeat_age(path)
    if age is None:
        print(f"dead: no heartbeat file {path}")
        return 1
    if age > settings.CELERY_WORKER_HEARTBEAT_MAX_AGE:
        print(f"dead: last heartbeat {age:.0f} s ago ({path})")
        return 1
    print(f"alive: last heartbeat {age:.1f} s ago")
    return 0


if __name__ == "__main__":
    sys.exit(main())
