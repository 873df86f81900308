"""The project's settings with the test-only routes of tests.hardening.urls mounted, for the
gunicorn processes the rate-limit test starts."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.hardening.urls"
