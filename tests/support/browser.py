"""The admin in a real browser (Playwright on Debian's chromium): where chromium is, the staff
users' password the backoffice fixtures set, `log_in`, and `ARTIFACTS` for screenshots."""

import shutil
from pathlib import Path

from accounts.two_factor import second_factor_required
from tests.support.staff import confirmed_device, totp_code

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PASSWORD = "correct horse battery staple"


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
