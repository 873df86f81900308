from django.contrib import admin

from orders.models import IdempotencyKey


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = (
        "key",
        "organization",
        "method",
        "path",
        "state",
        "response_status",
        "created_at",
        "expires_at",
    )
    list_filter = ("state", "method")
    search_fields = ("=key", "organization__name", "request_id")
    list_select_related = ("organization",)
    readonly_fields = [field.name for field in IdempotencyKey._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
