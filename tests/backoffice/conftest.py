import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from accounts.two_factor import second_factor_required
from config.staff import SUPPORT_GROUP, sync_support_group
from tests.support.staff import confirmed_device, staff_login, totp_code

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


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


def log_in(page, live_server, user):
    """Log in through the login page, and through the code page when the user needs a second
    factor (ADMIN_REQUIRE_2FA is on in tests, as outside DEBUG): their device is enrolled
    beforehand and the code computed from its key, as the authenticator app would."""
    device = confirmed_device(user) if second_factor_required(user) else None
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    if device is not None:
        page.wait_for_selector("#otp-form")
        page.fill("#id_otp_token", totp_code(device))
        page.click("#otp-form input[type=submit]")
    page.wait_for_selector("#user-tools")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Users log in with a password here; the production hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def support_client(client, support_user):
    staff_login(client, support_user)
    return client


@pytest.fixture
def superuser_client(client, superuser):
    staff_login(client, superuser)
    return client


def processing_order(organization, *, label="", quantity=3, unit_price_cents=100):
    """A backordered bulk order waiting for the carrier, its cost held, as bulk_order_place
    leaves it (without enqueuing fulfilment)."""
    from django.db import transaction

    from accounts.services import credit_hold, lock_organization
    from orders.models import BulkOrder

    with transaction.atomic():
        locked = lock_organization(organization.pk)
        order = BulkOrder.objects.create(
            organization=locked,
            quantity=quantity,
            number_type="local",
            area_code="415",
            label=label,
            unit_price_cents=unit_price_cents,
            is_backorder=True,
            status=BulkOrder.Status.PROCESSING,
            request_id="01JDEMOREQUESTID0000000000",
        )
        credit_hold(
            organization=locked,
            cents=quantity * unit_price_cents,
            order_id=order.id,
            note=f"held for {quantity} local numbers, bulk order {order.id}",
        )
    return order
