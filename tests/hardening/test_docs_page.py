"""/docs/ renders in a real browser with no network: headless Chromium loads the page from a
gunicorn process, and Swagger UI (served locally by drf-spectacular-sidecar) draws the
operations of /v1/openapi.json. Skipped without Debian's chromium (.ci/system-packages)."""

import shutil
import subprocess

import pytest

from tests.support.processes import Gunicorn, child_env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (installed by .ci/system-packages)"
    ),
]


@pytest.fixture
def docs_server(tmp_path):
    env = child_env(DJANGO_SETTINGS_MODULE="tests.hardening.settings_test_routes")
    with Gunicorn(workers=1, env=env, log_path=tmp_path / "gunicorn.log") as server:
        yield server.url


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
