"""The project's settings with the test-only routes of tests.hardening.urls mounted, for the
gunicorn processes the rate-limit test starts."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.hardening.urls"
# Serve static files (the docs page's Swagger UI assets) straight from the apps, without
# collectstatic, for the headless-browser test of /docs/.
WHITENOISE_USE_FINDERS = True
