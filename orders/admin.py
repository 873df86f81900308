"""Back office for bulk orders: find an order, see what it assigned and what it cost, and act
on a processing one. Every action goes through orders.services."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from accounts.models import CreditTransaction
from api.errors import OrderNotProcessing
from orders.models import BulkOrder, CarrierOrder
from orders.staff_services import staff_order_close, staff_order_retry
from phone_numbers.models import PhoneNumber

ASSIGNED_NUMBERS_SHOWN = 100


class CloseOrderForm(forms.Form):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), strip=True
    )


class CarrierOrderInline(admin.TabularInline):
    """Every upstream placement of the order, read-only: what was asked, what the carrier
    answered (its id, its refusal's `detail` in last_error), what it delivered."""

    model = CarrierOrder
    extra = 0
    can_delete = False
    show_change_link = False
    fields = (
        "sequence",
        "status",
        "carrier",
        "customer_reference",
        "carrier_order_id",
        "requested_count",
        "allocated_count",
        "assigned_count",
        "attempts",
        "last_error",
        "delivered_numbers",
        "created_at",
        "placed_at",
        "completed_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="numbers delivered")
    def delivered_numbers(self, obj):
        return ", ".join(obj.numbers[:20]) + (" …" if len(obj.numbers) > 20 else "")


@admin.register(BulkOrder)
class BulkOrderAdmin(admin.ModelAdmin):
    inlines = (CarrierOrderInline,)
    list_display = (
        "id",
        "status",
        "organization",
        "quantity",
        "assigned_count",
        "failed_count",
        "mode",
        "is_backorder",
        "label",
        "age",
        "fill_by",
        "cancelled_at",
        "ended_by",
        "created_at",
    )
    list_filter = ("status", "mode", "ended_by", "is_backorder", "organization", "created_at")
    list_select_related = ("organization",)
    date_hierarchy = "created_at"
    search_fields = ("=id", "label", "request_id")
    actions = ("retry_fulfilment", "close_orders")
    fieldsets = (
        (
            None,
            {"fields": ("id", "organization", "status", "mode", "is_backorder", "request_id")},
        ),
        (
            "Criteria",
            {
                "fields": (
                    "quantity",
                    "number_type",
                    "area_code",
                    "exchange",
                    "pattern",
                    "starts_with",
                    "ends_with",
                    "features",
                )
            },
        ),
        ("Routing", {"fields": ("inbound_url", "status_url", "label")}),
        (
            "Progress",
            {
                "fields": (
                    "assigned_count",
                    "failed_count",
                    "pending",
                    "unit_price_cents",
                    "created_at",
                    "progressed_at",
                    "fill_by",
                    "completed_at",
                    "cancelled_at",
                    "ended_by",
                    "close_reason",
                )
            },
        ),
        ("Numbers", {"fields": ("assigned_numbers",)}),
        ("Ledger", {"fields": ("ledger_entries",)}),
    )

    def get_readonly_fields(self, request, obj=None):
        # Status and counts change only through services: nothing here is editable.
        return [f.name for f in BulkOrder._meta.fields] + [
            "pending",
            "assigned_numbers",
            "ledger_entries",
        ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            # A number: "+14155550100", "14155550100" or "4155550100" find its order.
            digits = term.lstrip("+")
            if digits.isdigit() and len(digits) >= 4:
                by_number = PhoneNumber.objects.filter(
                    order_id=OuterRef("pk"), number__endswith=digits
                )
                queryset |= self.model.objects.filter(Exists(by_number))
        return queryset, may_have_duplicates

    @admin.display(description="age")
    def age(self, order):
        end = order.completed_at or timezone.now()
        return timesince(order.created_at, end)

    @admin.display(description="pending")
    def pending(self, order):
        return order.pending_count

    @admin.display(description="numbers assigned by this order")
    def assigned_numbers(self, order):
        # The first ASSIGNED_NUMBERS_SHOWN, so a 10,000-number order's page stays small; the
        # numbers changelist filtered by this order has them all.
        numbers = PhoneNumber.objects.filter(order_id=order.id).order_by("number")
        shown = list(numbers.values_list("pk", "number", "state")[: ASSIGNED_NUMBERS_SHOWN + 1])
        if not shown:
            return "none"
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td></tr>',
            (
                (reverse("admin:phone_numbers_phonenumber_change", args=[pk]), number, state)
                for pk, number, state in shown[:ASSIGNED_NUMBERS_SHOWN]
            ),
        )
        more = ""
        if len(shown) > ASSIGNED_NUMBERS_SHOWN:
            url = reverse("admin:phone_numbers_phonenumber_changelist") + f"?order_id={order.id}"
            # The order's own count: no COUNT over its numbers on every page view.
            more = format_html('<p><a href="{}">All {} numbers</a></p>', url, order.assigned_count)
        return format_html("<table><tr><th>number</th><th>state</th></tr>{}</table>{}", rows, more)

    @admin.display(description="ledger entries of this order")
    def ledger_entries(self, order):
        entries = CreditTransaction.objects.filter(order_id=order.id).order_by("created_at", "id")
        if not entries:
            return "none"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((e.created_at, e.kind, e.amount_cents, e.held_change_cents, e.note) for e in entries),
        )
        return format_html(
            "<table><tr><th>when</th><th>kind</th><th>amount (cents)</th>"
            "<th>held change (cents)</th><th>note</th></tr>{}</table>",
            rows,
        )

    def has_close_permission(self, request):
        return request.user.has_perm("orders.close_bulkorder")

    def has_retry_permission(self, request):
        return request.user.has_perm("orders.retry_bulkorder")

    @admin.action(description="Retry fulfilment now (processing orders)", permissions=["retry"])
    def retry_fulfilment(self, request, queryset):
        retried = sum(staff_order_retry(user=request.user, order_id=order.pk) for order in queryset)
        skipped = queryset.count() - retried
        self.message_user(request, f"Fulfilment enqueued for {retried} order(s).")
        if skipped:
            self.message_user(request, f"{skipped} order(s) were not processing.", messages.WARNING)

    @admin.action(
        description="Close processing orders (the remainder fails, hold released)",
        permissions=["close"],
    )
    def close_orders(self, request, queryset):
        form = CloseOrderForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            closed, skipped = 0, 0
            for order in queryset:
                try:
                    staff_order_close(
                        user=request.user, order_id=order.pk, reason=form.cleaned_data["reason"]
                    )
                    closed += 1
                except OrderNotProcessing:
                    skipped += 1
            self.message_user(request, f"Closed {closed} order(s).")
            if skipped:
                self.message_user(
                    request, f"{skipped} order(s) were not processing.", messages.WARNING
                )
            return None
        return TemplateResponse(
            request,
            "admin/orders/bulkorder/close.html",
            {
                **self.admin_site.each_context(request),
                "title": "Close bulk orders",
                "orders": queryset,
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )
