from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    default_site = "config.admin.StaffAdminSite"

    def ready(self):
        super().ready()
        from config import metrics, staff

        staff.connect()
        metrics.register()
