from django.contrib import admin


class StaffAdminSite(admin.AdminSite):
    """The back office. Its index is the staff dashboard (orders/dashboard.py)."""

    site_header = "Phone numbers · back office"
    site_title = "Back office"
    index_title = "Dashboard"

    def index(self, request, extra_context=None):
        from orders.dashboard import dashboard_summary

        extra_context = {**(extra_context or {}), "dashboard": dashboard_summary()}
        return super().index(request, extra_context)
