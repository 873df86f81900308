from django import forms
from django.conf import settings
from django.contrib import admin, messages
from rest_framework.exceptions import ValidationError as DRFValidationError

from api.serializers import HttpsURLField
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.serializers import EventTypesField, target_url_problem
from webhooks.staff_services import staff_delivery_redeliver, staff_endpoint_update


class WebhookEndpointForm(forms.ModelForm):
    """The API's rules for url and events, so staff cannot save what a customer could not."""

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "is_active"]

    def clean_url(self):
        field = HttpsURLField(allow_http=settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS)
        try:
            value = field.run_validation(self.cleaned_data["url"])
        except DRFValidationError as exc:
            raise forms.ValidationError(exc.detail) from exc
        problem = target_url_problem(value)
        if problem:
            raise forms.ValidationError(problem)
        return value

    def clean_events(self):
        try:
            return EventTypesField().run_validation(self.cleaned_data["events"])
        except DRFValidationError as exc:
            raise forms.ValidationError(exc.detail) from exc


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    # The encrypted secret columns are left out of every list, form and read-only field.
    form = WebhookEndpointForm
    list_display = ["url", "organization", "events", "is_active", "created_at", "deleted_at"]
    list_filter = ["is_active", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["url", "description", "organization__name"]
    fields = ["organization", "url", "events", "description", "is_active", "created_at"]
    readonly_fields = ["organization", "created_at"]
    list_select_related = ["organization"]

    def has_add_permission(self, request):
        return False  # created through the API, which issues and shows the secret once

    def has_delete_permission(self, request, obj=None):
        return False  # deleted (softly) through the API; its deliveries stay readable

    def save_model(self, request, obj, form, change):
        # Through the service, audited; the admin's own save would skip both.
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        if "is_active" in fields:
            fields["enabled"] = fields.pop("is_active")
        staff_endpoint_update(
            user=request.user, endpoint=WebhookEndpoint.objects.get(pk=obj.pk), **fields
        )
        obj.refresh_from_db()


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["at", "status_code", "latency_ms", "succeeded", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "event",
        "endpoint",
        "organization",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "endpoint", "organization"]
    search_fields = ["id", "event__id", "endpoint__url"]
    list_select_related = ["event", "endpoint", "organization"]
    readonly_fields = [
        "event",
        "endpoint",
        "organization",
        "status",
        "attempt_count",
        "next_attempt_at",
        "retry_until",
        "locked_until",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
    ]
    fields = readonly_fields
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # events and deliveries are the record of what was sent: never deleted

    @admin.action(description="Redeliver now (dead or retrying deliveries)", permissions=["change"])
    def redeliver(self, request, queryset):
        sent = skipped = 0
        for delivery_id in queryset.values_list("pk", flat=True):
            if staff_delivery_redeliver(user=request.user, delivery_id=delivery_id):
                sent += 1
            else:
                skipped += 1
        self.message_user(request, f"{sent} queued for redelivery.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} already delivered, not sent again.", messages.WARNING
            )


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "organization", "order_id", "created_at"]
    list_filter = ["type"]
    search_fields = ["id", "order_id"]
    readonly_fields = ["id", "type", "organization", "order_id", "body", "created_at"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # events and deliveries are the record of what was sent: never deleted
