"""Staff in the back office: a confirmed TOTP device, its current code, and a test client
logged in with the second factor (django-otp), as the admin requires (docs/backoffice.md), and
a staff user with given permissions (`staff_with`)."""


def confirmed_device(user):
    """The user's TOTP device (django-otp), enrolled and confirmed, made if missing."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="test phone", confirmed=True)


def totp_code(device, *, steps_ahead=0) -> str:
    """The code an authenticator app shows now for `device` (django-otp's own TOTP class);
    steps_ahead=1 is the next 30-second code (a code is accepted once only)."""
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def staff_login(client, user):
    """Log a test client in to the back office as `user`, second factor included: the session
    holds a confirmed TOTP device, as django_otp.login leaves it after a code was entered."""
    from django_otp import DEVICE_ID_SESSION_KEY

    device = confirmed_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def staff_with(*codenames):
    """A staff user holding exactly these permissions (codenames), named after them."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(
        f"staff-{'-'.join(codenames)}", password="pw-12345-xyz", is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user
