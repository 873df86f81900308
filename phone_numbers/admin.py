import io
import re

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from api.admin import ReadOnlyAdmin
from api.middleware import allow_body_up_to
from phone_numbers import selectors
from phone_numbers.allocation import NUMBER_LENGTH, prefix_range
from phone_numbers.inventory_csv import validate_inventory_csv
from phone_numbers.models import NumberPrice, PhoneNumber, Reservation, ReservationNumber
from phone_numbers.staff_services import (
    IMPORT_PERMISSION,
    staff_inventory_import,
    staff_numbers_release,
    staff_price_change,
    staff_reservation_release,
)

STATE_COUNTS_CACHE_KEY = "admin:inventory-state-counts"
STATE_COUNTS_CACHE_SECONDS = 30


def inventory_state_counts() -> dict[str, int]:
    """Numbers per state. A GROUP BY over 1,000,000 rows takes ~0.2 s, so the changelist
    header shows counts at most 30 seconds old instead of paying that on every page."""
    counts = cache.get(STATE_COUNTS_CACHE_KEY)
    if counts is None:
        counts = dict(PhoneNumber.objects.order_by().values_list("state").annotate(n=Count("pk")))
        cache.set(STATE_COUNTS_CACHE_KEY, counts, STATE_COUNTS_CACHE_SECONDS)
    return counts


class AreaCodeFilter(admin.SimpleListFilter):
    """A text box rather than a list: listing every area code of 1,000,000 numbers would cost a
    DISTINCT over the whole table on every page view."""

    title = "area code"
    parameter_name = "area_code"
    template = "admin/phone_numbers/input_filter.html"

    def lookups(self, request, model_admin):
        return (("", ""),)  # the filter is shown only when it has a choice

    def choices(self, changelist):
        # One "choice" carrying the other active filters, kept as hidden fields of the form.
        yield {
            "value": self.value() or "",
            "other_params": [
                (key, value)
                for key, values in changelist.params.items()
                if key != self.parameter_name
                for value in (values if isinstance(values, list) else [values])
            ],
        }

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        # The range of `number` lets the database walk its unique index (which the changelist
        # is ordered by) from +1<area code> instead of filtering the whole table in order. A
        # range, not LIKE 'prefix%': that needs a pattern index the claims would have to write.
        return queryset.filter(area_code=value, number__range=prefix_range(f"+1{value}"))


# --- Inventory CSV import -------------------------------------------------
# An upload form on the phone-number changelist. The file is checked by the same validation as
# the import_inventory command (phone_numbers.inventory_csv) and imported through the same
# service (inventory_add) via phone_numbers.staff_services, which audits it. Who may import:
# users with phone_numbers.add_phonenumber (superusers; not the support group).

ADMIN_CSV_MAX_BYTES = 5 * 1024 * 1024  # about 250,000 lines
# The request carries the file in a multipart form: allow its envelope on top of the file.
# Checked from Content-Length before anything is read (api.middleware.BodySizeLimitMiddleware).
ADMIN_CSV_MAX_REQUEST_BYTES = ADMIN_CSV_MAX_BYTES + 64 * 1024
ERRORS_SHOWN = 200


class InventoryCsvForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with the header number,number_type (UTF-8, at most 5 MB). Every line is "
        "checked first; if any is bad, nothing is imported."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > ADMIN_CSV_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size} bytes; at most {ADMIN_CSV_MAX_BYTES} bytes here "
                "(use manage.py import_inventory for larger files)."
            )
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text.") from exc
        self.cleaned_data["validation"] = validate_inventory_csv(io.StringIO(text, newline=""))
        return upload


class InventoryCsvImportMixin:
    """Adds /admin/phone_numbers/phonenumber/import-csv/ to the phone-number admin."""

    def has_import_permission(self, request):
        return request.user.has_perm(IMPORT_PERMISSION)

    def get_urls(self):
        return [
            path(
                "import-csv/",
                allow_body_up_to(ADMIN_CSV_MAX_REQUEST_BYTES)(
                    self.admin_site.admin_view(self.import_csv_view)
                ),
                name="phone_numbers_phonenumber_import_csv",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_import_csv": self.has_import_permission(request),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def import_csv_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = InventoryCsvForm(request.POST or None, request.FILES or None)
        errors, error_count = [], 0
        if request.method == "POST" and form.is_valid():
            validation = form.cleaned_data["validation"]
            if validation.ok:
                upload = form.cleaned_data["file"]
                added = staff_inventory_import(
                    user=request.user, validation=validation, filename=upload.name
                )
                messages.success(
                    request,
                    f"Imported {added} number(s) from {upload.name}; skipped "
                    f"{len(validation.rows) - added} already in inventory.",
                )
                return redirect("admin:phone_numbers_phonenumber_changelist")
            error_count = len(validation.errors)
            errors = validation.errors[:ERRORS_SHOWN]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "errors": errors,
            "error_count": error_count,
            "errors_hidden": error_count - len(errors),
            "title": "Import inventory from a CSV file",
        }
        return TemplateResponse(request, "admin/phone_numbers/phonenumber/import_csv.html", context)


# --- Owned numbers: the number's history on its page; staff release / return (audited) -------


class StaffReleaseForm(forms.Form):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), strip=True
    )


class NumberHistoryAndReleaseMixin:
    """The detail page shows the number's history (phone_numbers.selectors.number_history);
    the changelist has two actions going through phone_numbers.services.release:
    - release from their organization (quarantine): users with the phone_numbers
      `release_phonenumber` permission (superusers have it);
    - return to the carrier (never sold again): superusers only."""

    actions = ["release_numbers", "return_numbers"]
    fields = [
        "id",
        "number",
        "number_type",
        "area_code",
        "state",
        "organization",
        "order_id",
        "inbound_url",
        "status_url",
        "label",
        "sms_enabled",
        "mms_enabled",
        "assigned_at",
        "quarantine_ends_at",
        "created_at",
        "updated_at",
        "history",
    ]
    readonly_fields = fields

    @admin.display(description="history (oldest first)")
    def history(self, number):
        events = selectors.number_history(number)
        if not events:
            return "none recorded"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "</tr>",
            (
                (
                    event.at,
                    event.get_kind_display(),
                    event.organization or "",
                    self._order_link(event.order_id),
                    self._actor(event),
                    event.request_id,
                    event.note,
                )
                for event in events
            ),
        )
        return format_html(
            "<table><tr><th>when</th><th>what</th><th>organization</th><th>order</th>"
            "<th>by</th><th>request id</th><th>note</th></tr>{}</table>",
            rows,
        )

    @staticmethod
    def _order_link(order_id):
        if order_id is None:
            return ""
        url = reverse("admin:orders_bulkorder_change", args=[order_id])
        return format_html('<a href="{}">{}</a>', url, order_id)

    @staticmethod
    def _actor(event) -> str:
        if event.staff_user_id:
            return f"staff: {event.staff_user}"
        if event.api_key_id:
            return f"API key {event.api_key.prefix}…"
        return ""

    def has_release_permission(self, request):
        return request.user.is_active and request.user.has_perm("phone_numbers.release_phonenumber")

    def has_superuser_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    @admin.action(
        description="Release selected numbers from their organization (quarantine)",
        permissions=["release"],
    )
    def release_numbers(self, request, queryset):
        return self._staff_release(request, queryset, return_to_carrier=False)

    @admin.action(
        description="Return selected numbers to the carrier (never sold again)",
        permissions=["superuser"],
    )
    def return_numbers(self, request, queryset):
        return self._staff_release(request, queryset, return_to_carrier=True)

    def _staff_release(self, request, queryset, *, return_to_carrier: bool):
        action = "return_numbers" if return_to_carrier else "release_numbers"
        form = StaffReleaseForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            outcome = staff_numbers_release(
                user=request.user,
                number_ids=list(queryset.values_list("pk", flat=True)),
                return_to_carrier=return_to_carrier,
                reason=form.cleaned_data["reason"],
            )
            verb = "Returned" if return_to_carrier else "Released"
            self.message_user(request, f"{verb} {len(outcome.changed)} number(s).")
            if outcome.skipped:
                self.message_user(
                    request,
                    f"{len(outcome.skipped)} number(s) left as they were: "
                    + ", ".join(outcome.skipped[:20]),
                    messages.WARNING,
                )
            return None
        return TemplateResponse(
            request,
            "admin/phone_numbers/phonenumber/release.html",
            {
                **self.admin_site.each_context(request),
                "title": "Return numbers to the carrier"
                if return_to_carrier
                else "Release numbers from their organization",
                "return_to_carrier": return_to_carrier,
                "numbers": queryset.select_related("organization")[:1000],
                "form": form,
                "action": action,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


# What staff paste around digits: "(415) 555-0123", "+1 415.555.0123".
SEARCH_SEPARATORS = re.compile(r"[\s().-]")


def number_containing(term: str) -> Q:
    """Numbers with `term` anywhere in them, as the admin's search box promises, read through
    the unique index of `number` wherever the term pins where it sits: a term that starts with
    "+" can only sit at the start, and 10 or more digits only right after "+" or "+1" (numbers
    are "+1" and 10 digits). Any shorter run of digits may sit anywhere and is a scan of the
    table (0.1-0.2 s per million numbers): there is no index for it, since a trigram index of
    every number costs every claim a write per number it claims (docs/inventory.md)."""
    if term.startswith("+"):
        return Q(number__range=prefix_range(term))
    if term.isdigit() and len(term) >= NUMBER_LENGTH - 2:
        return Q(number__range=prefix_range("+" + term)) | Q(
            number__range=prefix_range("+1" + term)
        )
    return Q(number__contains=term)


@admin.register(PhoneNumber)
class PhoneNumberAdmin(InventoryCsvImportMixin, NumberHistoryAndReleaseMixin, ReadOnlyAdmin):
    """Inventory, read-only here: numbers change state only through allocation and services."""

    list_display = ["number", "number_type", "area_code", "state", "organization", "assigned_at"]
    list_filter = ["state", "number_type", AreaCodeFilter, "organization"]
    search_fields = ["number"]
    list_select_related = ["organization"]
    # COUNT(*) of 1,000,000 rows on every page is the slowest part of a changelist.
    show_full_result_count = False
    list_per_page = 50
    ordering = ["number"]

    def get_search_results(self, request, queryset, search_term):
        term = SEARCH_SEPARATORS.sub("", search_term)
        if not term:
            return queryset, False
        return queryset.filter(number_containing(term)), False

    def changelist_view(self, request, extra_context=None):
        counts = inventory_state_counts()
        extra_context = {
            **(extra_context or {}),
            "state_counts": [
                (label, counts.get(value, 0)) for value, label in PhoneNumber.State.choices
            ],
        }
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(NumberPrice)
class NumberPriceAdmin(admin.ModelAdmin):
    """Prices per number type. Staff can see them; only superusers change them (a new price
    applies to numbers assigned from then on)."""

    list_display = ["number_type", "price_cents", "updated_at"]
    fields = ["number_type", "price_cents", "updated_at"]
    readonly_fields = ["number_type", "updated_at"]

    def has_add_permission(self, request):
        return False  # one row per number type, created by a data migration

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def save_model(self, request, obj, form, change):
        # Through the audited service (old and new price in accounts.StaffAction).
        saved = staff_price_change(
            user=request.user, number_type=obj.number_type, price_cents=obj.price_cents
        )
        obj.updated_at = saved.updated_at


class ReservationNumberInline(admin.TabularInline):
    model = ReservationNumber
    fields = ("number", "ordered_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # The numbers are part of the reservation: who may see it sees them.
        return request.user.has_perm("phone_numbers.view_reservation")


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    """Reservations with their numbers. Staff with phone_numbers.release_reservation can
    release active ones (audited, phone_numbers.staff_services)."""

    list_display = ("id", "organization", "current_status", "created_at", "expires_at")
    list_filter = ("status", "organization")
    list_select_related = ("organization",)
    search_fields = ("=id", "numbers__number")
    readonly_fields = (
        "id",
        "organization",
        "status",
        "created_at",
        "expires_at",
        "ended_at",
        "released_by",
        "unavailable_numbers",
    )
    inlines = [ReservationNumberInline]
    actions = ("release_reservations",)
    show_full_result_count = False

    @admin.display(description="status")
    def current_status(self, obj):
        # An active reservation past its expiry is expired, tidied or not.
        return obj.effective_status()

    def has_release_permission(self, request):
        return request.user.is_active and request.user.has_perm("phone_numbers.release_reservation")

    @admin.action(description="Release selected reservations now", permissions=["release"])
    def release_reservations(self, request, queryset):
        released = 0
        for reservation_id in queryset.values_list("pk", flat=True):
            reservation = staff_reservation_release(
                user=request.user,
                reservation_id=reservation_id,
                reason="released by staff from the admin",
            )
            released += reservation.released_by_id == request.user.pk
        self.message_user(request, f"Released {released} reservation(s).")
