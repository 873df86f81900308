"""Logging in to the back office in a real browser (Debian's chromium, Playwright, the live
server): the lockout after too many wrong passwords, enrolling a TOTP device, and logging in
with a code. Codes are computed from the device's key with django-otp's own TOTP class, as an
authenticator app would."""

import pytest
from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import StaffAction
from tests.backoffice.conftest import ARTIFACTS, PASSWORD
from tests.support.staff import confirmed_device, totp_code

pytestmark = pytest.mark.usefixtures("transactional_db")


def submit_password(page, live_server, username, password):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def test_login_is_locked_out_after_the_failure_limit_even_with_the_right_password(
    page, live_server, superuser
):
    limit = settings.ADMIN_LOGIN_FAILURE_LIMIT
    for _ in range(limit - 1):
        submit_password(page, live_server, "root", "not the password")
        assert "Please enter the correct username and password" in page.inner_text(".errornote")

    submit_password(page, live_server, "root", "not the password")
    page.wait_for_selector("#lockout-message")
    submit_password(page, live_server, "root", PASSWORD)

    message = page.inner_text("#lockout-message")
    assert "Too many failed logins" in message and "root" in message
    assert f"after {limit} wrong passwords" in message
    assert f"Try again in {settings.ADMIN_LOGIN_COOLOFF_MINUTES} minutes" in message
    assert page.locator("#user-tools").count() == 0
    page.goto(f"{live_server.url}/admin/")
    assert page.locator("#id_username").count() == 1  # still the login page


def test_a_superuser_without_a_device_enrols_one_then_reaches_the_dashboard(
    page, live_server, superuser
):
    submit_password(page, live_server, "root", PASSWORD)

    page.wait_for_selector("#otp-qr")
    assert "/admin/otp/setup/" in page.url
    assert page.locator("#otp-uri").inner_text().startswith("otpauth://totp/")
    qr = page.locator("#otp-qr")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the SVG rendered
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "otp-setup.png"), full_page=True)
    device = TOTPDevice.objects.get(user=superuser, confirmed=False)
    # The key typed by hand is the device's: the page and the database agree.
    assert page.locator("#otp-secret").inner_text() in device.config_url

    page.fill("#id_otp_token", "000000")
    page.click("#otp-form input[type=submit]")
    assert "That code is not right" in page.inner_text("#otp-form")
    page.wait_for_timeout(1500)  # django-otp's wait after a wrong code
    page.fill("#id_otp_token", totp_code(device))
    page.click("#otp-form input[type=submit]")

    page.wait_for_selector("#user-tools")
    assert page.url.rstrip("/").endswith("/admin")
    assert page.locator("#dashboard-processing").count() == 1
    device.refresh_from_db()
    assert device.confirmed
    assert StaffAction.objects.filter(action="two_factor_enrol", user=superuser).exists()


def test_with_a_device_the_superuser_logs_in_with_a_code(page, live_server, superuser):
    device = confirmed_device(superuser)
    submit_password(page, live_server, "root", PASSWORD)

    page.wait_for_selector("#otp-form")
    assert "/admin/otp/" in page.url
    # No admin page opens with the password alone.
    page.goto(f"{live_server.url}/admin/accounts/organization/")
    page.wait_for_selector("#otp-form")
    page.fill("#id_otp_token", totp_code(device))
    page.click("#otp-form input[type=submit]")

    page.wait_for_selector("#user-tools")
    assert page.url.endswith("/admin/accounts/organization/")  # where they were going
    assert "root" in page.inner_text("#user-tools").lower()
