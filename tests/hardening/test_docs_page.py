"""/docs/ renders in a real browser with no network: headless Chromium loads the page from a
gunicorn process, and Swagger UI (served locally by drf-spectacular-sidecar) draws the
operations of /v1/openapi.json. Skipped without Debian's chromium (.ci/system-packages)."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.hardening.test_ratelimit_concurrency import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (installed by .ci/system-packages)"
    ),
]


@pytest.fixture
def docs_server(tmp_path):
    port = free_port(set())
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.hardening.settings_test_routes",
        "SECRET_KEY": settings.SECRET_KEY,
    }
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    with open(tmp_path / "gunicorn.log", "w") as log:
        process = subprocess.Popen(
            [gunicorn, "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, "gunicorn never became ready"
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_it_renders_the_docs_page_in_a_browser_without_network(docs_server, tmp_path):
    # --dump-dom prints the DOM after scripts ran; the virtual time budget lets Swagger UI
    # fetch the schema and draw. Any request off this machine would fail (no network here).
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{docs_server}/docs/",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    dom = result.stdout
    assert 'class="swagger-ui' in dom, result.stderr[-2000:]
    assert "Phone numbers API" in dom
    assert "/v1/billing/wallet" in dom  # an operation drawn from the schema
    assert "opblock" in dom
