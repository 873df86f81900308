from django.contrib import admin
from django.core.cache import cache
from django.db.models import Count

from phone_numbers.models import NumberPrice, PhoneNumber

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
        # The prefix lets PostgreSQL walk the unique index on `number` (which the changelist
        # is ordered by) from +1<area code> instead of filtering the whole table in order.
        return queryset.filter(area_code=value, number__startswith=f"+1{value}")


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
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
        # A case-sensitive substring: numbers have no case, and LIKE (unlike ILIKE through
        # UPPER()) is served by the pg_trgm index on PostgreSQL.
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(number__contains=term), False

    def changelist_view(self, request, extra_context=None):
        counts = inventory_state_counts()
        extra_context = {
            **(extra_context or {}),
            "state_counts": [
                (label, counts.get(value, 0)) for value, label in PhoneNumber.State.choices
            ],
        }
        return super().changelist_view(request, extra_context=extra_context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
