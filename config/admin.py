from django.contrib import admin
from django.shortcuts import redirect
from django.urls import path

from config.staff_login import awaiting_second_factor, next_step_url, otp_setup, otp_verify


class StaffAdminSite(admin.AdminSite):
    """The back office. Its index is the staff dashboard (orders/dashboard.py). After the
    password (throttled by django-axes), staff who need a second factor (accounts.two_factor)
    are let in only once they entered a TOTP code in this session (config.staff_login)."""

    site_header = "Phone numbers · back office"
    site_title = "Back office"
    index_title = "Dashboard"

    def has_permission(self, request):
        return super().has_permission(request) and not awaiting_second_factor(request)

    def login(self, request, extra_context=None):
        if awaiting_second_factor(request):
            return redirect(next_step_url(request))
        return super().login(request, extra_context)

    def get_urls(self):
        return [
            path("otp/", lambda request: otp_verify(request, self), name="otp_verify"),
            path("otp/setup/", lambda request: otp_setup(request, self), name="otp_setup"),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        from orders.dashboard import dashboard_summary

        extra_context = {**(extra_context or {}), "dashboard": dashboard_summary()}
        return super().index(request, extra_context)
