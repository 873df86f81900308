"""Who needs a second factor in the back office, and the audited changes to staff devices.

A TOTP device (django-otp) is required, with ADMIN_REQUIRE_2FA on, for superusers and for staff
who hold a permission that moves money or makes keys: whoever can do that with a stolen password
alone is the account an attacker wants. A user who enrolled a device is asked for a code
whatever the setting. The login flow itself is config.staff_login."""

from django.conf import settings
from django.db import transaction
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import Action, record_staff_action

# Holding any one of these makes a second factor required (besides being a superuser).
SECOND_FACTOR_PERMISSIONS = (
    "accounts.adjust_credit",
    "accounts.add_apikey",
    "accounts.change_apikey",
    "accounts.delete_apikey",
)
DEVICE_NAME = "authenticator app"


def second_factor_required(user) -> bool:
    """Whether `user` (authenticated staff) must enter a TOTP code to use the back office."""
    if user_has_device(user):
        return True
    if not settings.ADMIN_REQUIRE_2FA:
        return False
    return user.is_superuser or any(user.has_perm(perm) for perm in SECOND_FACTOR_PERMISSIONS)


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device `user` is enrolling (made on first visit, kept across reloads so
    the QR code stays the same until it is confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


@transaction.atomic
def confirm_device(*, user, device: TOTPDevice) -> None:
    """Mark the enrolled device confirmed (its code was just verified) and audit it. Other
    unconfirmed devices of the user are dropped."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    record_staff_action(
        user=user,
        action=Action.TWO_FACTOR_ENROL,
        target=user,
        details={"device": device.persistent_id},
    )


@transaction.atomic
def staff_two_factor_reset(*, operator, user, reason: str) -> int:
    """Remove every TOTP device of `user` (a lost phone): their next login asks them to enrol
    a new one, and sessions verified with an old device lose the verification at once. One
    audit row by `operator`, with the reason. Returns how many devices were removed."""
    devices = list(TOTPDevice.objects.select_for_update().filter(user=user))
    TOTPDevice.objects.filter(pk__in=[device.pk for device in devices]).delete()
    record_staff_action(
        user=operator,
        action=Action.TWO_FACTOR_RESET,
        target=user,
        reason=reason,
        details={"devices_removed": len(devices)},
    )
    return len(devices)
