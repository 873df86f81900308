import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from config.staff import SUPPORT_GROUP, sync_support_group
from tests.support.browser import CHROMIUM, PASSWORD
from tests.support.staff import staff_login


@pytest.fixture
def support_user(db):
    # After a transactional test's flush the group is gone until the next migrate.
    sync_support_group()
    user = User.objects.create_user("sam", "sam@example.com", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    return user


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium); .ci/run installs it")
    # Playwright's sync API runs an event loop in this thread; the live server and the ORM
    # calls of the test itself are synchronous code that Django would otherwise refuse.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Users log in with a password here; the production hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def support_client(client, support_user):
    staff_login(client, support_user)
    return client
