"""config/settings.py evaluated afresh under a given environment, for the settings tests."""

import os
import runpy

from django.conf import settings

SETTINGS_FILE = settings.BASE_DIR / "config" / "settings.py"


def load_settings(monkeypatch, **environment):
    """Evaluate config/settings.py afresh under `environment` (on top of a valid base)."""
    for name in list(os.environ):
        if name in {"DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL"} or name in environment:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", "x" * 60)
    for name, value in environment.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))
