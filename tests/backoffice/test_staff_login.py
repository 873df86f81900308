"""Logging in to the back office: throttling (django-axes), the TOTP second factor (django-otp),
the staff session's length and ADMIN_HOST, through the real login pages with the test client.
The same flows in a browser: test_login_browser.py."""

import io
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import StaffAction
from tests.backoffice.conftest import PASSWORD
from tests.support.staff import confirmed_device, staff_login, totp_code

LOGIN = "/admin/login/"


def log_in_with_password(client, username, password=PASSWORD):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})


def follow_to_the_end(client, response):
    """The URL a browser would land on after following every redirect, and its answer."""
    url = None
    while response.status_code == 302:
        url = response["Location"]
        response = client.get(url)
    return url, response


# --- Throttling and lockout ------------------------------------------------------------------


def test_after_the_failure_limit_the_right_password_is_refused_with_a_lockout_page(
    client, superuser
):
    limit = settings.ADMIN_LOGIN_FAILURE_LIMIT
    for _ in range(limit - 1):
        response = log_in_with_password(client, "root", "wrong")
        assert response.status_code == 200  # the login form again, with its error
        assert "Please enter the correct username and password" in response.content.decode()

    locked = log_in_with_password(client, "root", "wrong")
    right_password = log_in_with_password(client, "root")

    for response in (locked, right_password):
        assert response.status_code == 429
        body = response.content.decode()
        assert "Too many failed logins" in body
        assert f"after {limit} wrong passwords" in body
        assert f"Try again in {settings.ADMIN_LOGIN_COOLOFF_MINUTES} minutes" in body
    assert "_auth_user_id" not in client.session
    # Counted in the database, where every web process reads it.
    attempt = AccessAttempt.objects.get(username="root")
    assert attempt.failures_since_start >= limit and attempt.ip_address == "127.0.0.1"


def test_a_lockout_is_per_username_and_address_and_ends_after_the_cool_off(
    client, superuser, support_user
):
    for _ in range(settings.ADMIN_LOGIN_FAILURE_LIMIT):
        log_in_with_password(client, "root", "wrong")
    assert log_in_with_password(client, "root").status_code == 429

    # Another user from the same address, and the same user from another address, log in.
    assert log_in_with_password(client, "sam").status_code == 302
    client.logout()
    other_address = client.post(
        LOGIN, {"username": "root", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )
    assert other_address.status_code == 302
    client.logout()

    later = timezone.now() + timedelta(minutes=settings.ADMIN_LOGIN_COOLOFF_MINUTES, seconds=5)
    with time_machine.travel(later, tick=False):
        assert log_in_with_password(client, "root").status_code == 302


def test_a_successful_login_resets_the_failure_count(client, superuser):
    for _ in range(settings.ADMIN_LOGIN_FAILURE_LIMIT - 1):
        log_in_with_password(client, "root", "wrong")
    assert log_in_with_password(client, "root").status_code == 302
    client.logout()

    for _ in range(settings.ADMIN_LOGIN_FAILURE_LIMIT - 1):
        log_in_with_password(client, "root", "wrong")

    assert log_in_with_password(client, "root").status_code == 302


def test_axes_reset_username_lifts_a_lockout(client, superuser):
    for _ in range(settings.ADMIN_LOGIN_FAILURE_LIMIT):
        log_in_with_password(client, "root", "wrong")

    call_command("axes_reset_username", "root", stdout=io.StringIO())

    assert log_in_with_password(client, "root").status_code == 302


# --- The second factor -------------------------------------------------------------------------


def test_a_superuser_without_a_device_is_sent_to_enrol_one_and_nothing_else_opens(
    client, superuser
):
    landed, page = follow_to_the_end(client, log_in_with_password(client, "root"))

    assert landed.startswith("/admin/otp/setup/")
    body = page.content.decode()
    device = TOTPDevice.objects.get(user=superuser, confirmed=False)
    assert "otpauth://totp/" in body and 'src="data:image/svg+xml;base64,' in body
    assert device.config_url.replace("&", "&amp;") in body
    # Password alone opens no admin page, and the code page sends back to enrolment.
    for url in ("/admin/", "/admin/accounts/organization/", "/admin/otp/"):
        landed, _ = follow_to_the_end(client, client.get(url))
        assert landed.startswith("/admin/otp/setup/"), url


def test_enrolment_is_confirmed_by_a_code_and_audited(client, superuser):
    log_in_with_password(client, "root")
    client.get("/admin/otp/setup/")
    device = TOTPDevice.objects.get(user=superuser, confirmed=False)

    with time_machine.travel(timezone.now(), tick=False):
        wrong = client.post("/admin/otp/setup/?next=/admin/", {"otp_token": "000000"})
        assert wrong.status_code == 200 and "That code is not right" in wrong.content.decode()
        assert client.get("/admin/").status_code == 302
        # Right away even the right code waits: django-otp slows guessing down.
        too_soon = client.post("/admin/otp/setup/", {"otp_token": totp_code(device)})
        assert "Too many wrong codes in a row" in too_soon.content.decode()

    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        code = totp_code(device)
        right = client.post("/admin/otp/setup/", {"otp_token": code, "next": "/admin/"})
        assert right.status_code == 302 and right["Location"] == "/admin/"
        assert client.get("/admin/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    audit = StaffAction.objects.get(action=StaffAction.Action.TWO_FACTOR_ENROL)
    assert audit.user == superuser and audit.target_id == str(superuser.pk)


def test_with_a_device_the_code_page_lets_in_once_the_code_is_right(client, superuser):
    device = confirmed_device(superuser)
    landed, page = follow_to_the_end(client, log_in_with_password(client, "root"))
    assert landed.startswith("/admin/otp/?next=")

    wrong = client.post("/admin/otp/", {"otp_token": "123456", "next": "/admin/"})
    assert wrong.status_code == 200 and "Invalid token" in wrong.content.decode()
    assert client.get("/admin/").status_code == 302

    # django-otp slows guessing down after a failure; the next try waits it out.
    with time_machine.travel(timezone.now() + timedelta(seconds=3), tick=False):
        right = client.post("/admin/otp/", {"otp_token": totp_code(device), "next": "/admin/"})
        assert right.status_code == 302 and right["Location"] == "/admin/"
        assert client.get("/admin/").status_code == 200


def test_a_code_is_accepted_once(client, superuser):
    device = confirmed_device(superuser)
    code = totp_code(device)
    log_in_with_password(client, "root")
    assert client.post("/admin/otp/", {"otp_token": code}).status_code == 302
    client.logout()

    log_in_with_password(client, "root")
    replayed = client.post("/admin/otp/", {"otp_token": code})

    assert replayed.status_code == 200
    assert client.get("/admin/").status_code == 302


def test_support_staff_need_a_device_and_view_only_staff_do_not(client, support_user):
    viewer = User.objects.create_user("vera", password=PASSWORD, is_staff=True)

    support_landed, _ = follow_to_the_end(client, log_in_with_password(client, "sam"))
    client.logout()
    viewer_landed, viewer_page = follow_to_the_end(client, log_in_with_password(client, "vera"))

    assert support_landed.startswith("/admin/otp/setup/")  # the support group adjusts credit
    assert viewer_landed == "/admin/" and viewer_page.status_code == 200
    assert viewer.is_staff


def test_with_admin_require_2fa_off_a_user_without_a_device_logs_in_with_the_password(
    client, superuser, settings
):
    settings.ADMIN_REQUIRE_2FA = False
    landed, page = follow_to_the_end(client, log_in_with_password(client, "root"))
    assert landed == "/admin/" and page.status_code == 200
    client.logout()

    # An enrolled device is asked for whatever the setting.
    confirmed_device(superuser)
    landed, _ = follow_to_the_end(client, log_in_with_password(client, "root"))
    assert landed.startswith("/admin/otp/")


def test_cancel_on_the_code_page_logs_out(client, superuser):
    confirmed_device(superuser)
    log_in_with_password(client, "root")

    response = client.post("/admin/otp/", {"cancel": "1"})

    assert response.status_code == 302 and response["Location"] == "/admin/login/"
    assert "_auth_user_id" not in client.session


def test_the_code_pages_send_anonymous_users_to_the_login_page(client, db):
    for url in ("/admin/otp/", "/admin/otp/setup/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/admin/login/"


def test_an_offsite_next_is_ignored(client, superuser):
    device = confirmed_device(superuser)
    log_in_with_password(client, "root")

    response = client.post(
        "/admin/otp/", {"otp_token": totp_code(device), "next": "https://evil.example/"}
    )

    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_reset_staff_2fa_removes_the_devices_audited_and_the_user_enrols_again(
    client, superuser, support_user
):
    device = confirmed_device(support_user)
    staff_login(client, support_user)
    assert client.get("/admin/").status_code == 200
    out = io.StringIO()

    call_command(
        "reset_staff_2fa", "sam", "--by", "root", "--reason", "lost phone, ticket 42", stdout=out
    )

    assert "removed 1 two-factor device(s) of 'sam'" in out.getvalue()
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    audit = StaffAction.objects.get(action=StaffAction.Action.TWO_FACTOR_RESET)
    assert (audit.user, audit.target_id, audit.reason) == (
        superuser,
        str(support_user.pk),
        "lost phone, ticket 42",
    )
    assert audit.details == {"devices_removed": 1}
    # The session verified with the old device is not any more: enrol again.
    landed, _ = follow_to_the_end(client, client.get("/admin/"))
    assert landed.startswith("/admin/otp/setup/")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "--by", "root", "--reason", "x"], "no user named 'nobody'"),
        (["sam", "--by", "sam-not-here", "--reason", "x"], "is not an active staff user"),
        (["sam", "--by", "root", "--reason", "  "], "--reason must be 1 to 500 characters"),
    ],
)
def test_reset_staff_2fa_refuses_bad_input_without_a_change(superuser, support_user, args, message):
    confirmed_device(support_user)

    with pytest.raises(CommandError, match=message):
        call_command("reset_staff_2fa", *args, stdout=io.StringIO())

    assert TOTPDevice.objects.filter(user=support_user).count() == 1
    assert not StaffAction.objects.exists()


# --- Session length ----------------------------------------------------------------------------


def test_a_staff_session_lasts_admin_session_seconds(client, superuser):
    device = confirmed_device(superuser)
    before = timezone.now()
    log_in_with_password(client, "root")
    client.post("/admin/otp/", {"otp_token": totp_code(device)})

    assert settings.ADMIN_SESSION_SECONDS == 8 * 60 * 60
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == settings.ADMIN_SESSION_SECONDS
    expiry = client.session.get_expiry_date()
    assert abs((expiry - before).total_seconds() - settings.ADMIN_SESSION_SECONDS) < 60

    after = timezone.now() + timedelta(seconds=settings.ADMIN_SESSION_SECONDS + 60)
    with time_machine.travel(after, tick=False):
        assert client.get("/admin/").status_code == 302


# --- ADMIN_HOST --------------------------------------------------------------------------------


@pytest.fixture
def admin_host(settings):
    settings.ADMIN_HOST = "admin.example.test"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "admin.example.test", "api.example.test"]
    return "admin.example.test"


def test_with_admin_host_the_admin_answers_only_there(client, superuser, admin_host):
    on_api_host = client.get(LOGIN, HTTP_HOST="api.example.test")
    on_admin_host = client.get(LOGIN, HTTP_HOST=admin_host)
    with_port = client.get(LOGIN, HTTP_HOST=f"{admin_host}:8443")
    staff_login(client, superuser)
    index_elsewhere = client.get("/admin/", HTTP_HOST="api.example.test")

    assert on_api_host.status_code == 404
    assert index_elsewhere.status_code == 404
    assert on_admin_host.status_code == 200 and with_port.status_code == 200


def test_with_admin_host_the_admin_host_serves_no_api(client, admin_host, alice):
    api_on_admin_host = alice.client.get("/v1/phone-numbers", HTTP_HOST=admin_host)
    docs_on_admin_host = client.get("/docs/", HTTP_HOST=admin_host)
    health_on_admin_host = client.get("/healthz", HTTP_HOST=admin_host)
    api_elsewhere = alice.client.get("/v1/phone-numbers", HTTP_HOST="api.example.test")

    assert api_on_admin_host.status_code == 404
    assert api_on_admin_host.json()["error"]["code"] == "NOT_FOUND"
    assert docs_on_admin_host.status_code == 404
    assert health_on_admin_host.status_code == 200
    assert api_elsewhere.status_code == 200


def test_without_admin_host_one_host_serves_both(client, alice, db):
    assert settings.ADMIN_HOST == ""
    assert client.get(LOGIN).status_code == 200
    assert alice.client.get("/v1/phone-numbers").status_code == 200
