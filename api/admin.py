from django.contrib import admin

from api.models import IdempotencyKey


class ReadOnlyAdmin(admin.ModelAdmin):
    """A model staff may look at but never add, change or delete in the admin: its rows change
    only through services (the ledger, the audit log, inventory, idempotency keys)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = (
        "key",
        "organization_id",
        "method",
        "path",
        "state",
        "response_status",
        "created_at",
        "expires_at",
    )
    list_filter = ("state", "method")
    search_fields = ("=key", "=organization_id", "request_id")
    readonly_fields = [field.name for field in IdempotencyKey._meta.fields]
    show_full_result_count = False
