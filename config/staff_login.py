"""Logging in to the back office beyond the password form: the lockout page of django-axes,
and the step after the password: enter a TOTP code, or enrol a device first (django-otp's
OTPTokenForm, TOTPDevice and login; accounts.two_factor says who needs it). These views are
reached by users the admin site does not let in yet (has_permission is False until the code is
entered), so they check the first factor themselves."""

import base64
import io
from base64 import b32encode

import django_otp
from axes.helpers import get_client_username
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.forms import OTPTokenForm
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from accounts.two_factor import confirm_device, pending_device, second_factor_required


def awaiting_second_factor(request) -> bool:
    """Password accepted, code still to come: an active staff user who must enter a code and
    has not in this session."""
    user = request.user
    return (
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and not user.is_verified()
        and second_factor_required(user)
    )


def next_step_url(request) -> str:
    """Where a user awaiting the second factor goes: the code page, or enrolment first."""
    name = "admin:otp_verify" if django_otp.user_has_device(request.user) else "admin:otp_setup"
    url = reverse(name)
    target = _next_url(request)
    return f"{url}?next={target}" if target else url


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else ""


def _verified(request, device) -> HttpResponseRedirect:
    # A new session key for the elevated session, as for a login.
    request.session.cycle_key()
    django_otp.login(request, device)
    return redirect(_next_url(request) or reverse("admin:index"))


def _first_factor_or_cancel(request):
    """A redirect when the page does not apply (not logged in, nothing to do, or "cancel"),
    else None."""
    if request.method == "POST" and "cancel" in request.POST:
        logout(request)
        return redirect("admin:login")
    if not request.user.is_authenticated or not request.user.is_active:
        return redirect("admin:login")
    if not awaiting_second_factor(request):
        return redirect(_next_url(request) or reverse("admin:index"))
    return None


class CodeForm(forms.Form):
    otp_token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


@sensitive_post_parameters("otp_token")
@csrf_protect
@never_cache
def otp_verify(request, admin_site):
    """The code of the user's confirmed device (django-otp counts failures and slows down
    guessing: each failure doubles the wait before the next try is checked)."""
    if (response := _first_factor_or_cancel(request)) is not None:
        return response
    device = TOTPDevice.objects.devices_for_user(request.user, confirmed=True).first()
    if device is None:
        return redirect(next_step_url(request))
    form = OTPTokenForm(
        request.user,
        request,
        data=(
            {"otp_device": device.persistent_id, "otp_token": request.POST.get("otp_token", "")}
            if request.method == "POST"
            else None
        ),
    )
    if form.is_bound and form.is_valid():
        return _verified(request, request.user.otp_device)
    context = {
        **admin_site.each_context(request),
        "title": "Two-factor authentication",
        "form": form,
        "code_form": CodeForm(),
        "next": _next_url(request),
    }
    return TemplateResponse(request, "admin/otp_verify.html", context)


@sensitive_post_parameters("otp_token")
@csrf_protect
@never_cache
def otp_setup(request, admin_site):
    """Enrolment: a new TOTP key as a QR code and an otpauth:// URI, confirmed by one code
    from the app. Until then the device is unconfirmed and logs nobody in."""
    if (response := _first_factor_or_cancel(request)) is not None:
        return response
    if django_otp.user_has_device(request.user):
        return redirect(next_step_url(request))
    device = pending_device(request.user)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        with transaction.atomic():
            locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
            allowed, _ = locked.verify_is_allowed()
            accepted = allowed and locked.verify_token(form.cleaned_data["otp_token"].strip())
        if accepted:
            confirm_device(user=request.user, device=locked)
            return _verified(request, locked)
        form.add_error(
            "otp_token",
            "That code is not right (or has expired): try the next one."
            if allowed
            else "Too many wrong codes in a row: wait a few seconds, then enter the next code.",
        )
    uri = device.config_url
    svg = io.BytesIO()
    write_qrcode_image(uri, svg)
    context = {
        **admin_site.each_context(request),
        "title": "Set up two-factor authentication",
        "form": form,
        "otpauth_uri": uri,
        "secret": b32encode(device.bin_key).decode(),
        "qr_data_uri": "data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode(),
        "next": _next_url(request),
    }
    return TemplateResponse(request, "admin/otp_setup.html", context)


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the page a locked-out login gets (429), in the admin's frame."""
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed logins",
        "username": get_client_username(request, credentials) or "",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": settings.ADMIN_LOGIN_COOLOFF_MINUTES,
    }
    # Rendered here: a middleware's answer, unlike a view's, is not rendered later.
    return render(request, "admin/lockout.html", context, status=429)
