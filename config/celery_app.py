import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("amcore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Imported after the app so the bootstep module never needs the app at import time.
from config.worker_liveness import HeartbeatFile  # noqa: E402

app.steps["worker"].add(HeartbeatFile)
