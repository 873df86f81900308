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


class ReadOnlyAdmin(admin.ModelAdmin):
    """A model staff may look at but never add, change or delete in the admin: its rows change
    only through services (the ledger, the audit log, inventory, idempotency keys)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
