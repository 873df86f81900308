from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    default_site = "config.admin.StaffAdminSite"

    def ready(self):
        super().ready()
        from django.contrib import admin
        from django_otp.plugins.otp_totp.models import TOTPDevice

        # Devices change only through enrolment at login and the audited reset command
        # (accounts.two_factor), never through an admin form that could add one for someone else.
        if admin.site.is_registered(TOTPDevice):
            admin.site.unregister(TOTPDevice)
        from config import metrics, staff

        staff.connect()
        metrics.register()
