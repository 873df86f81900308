"""Back office for organizations, API keys and credit.

- An API key's secret is shown once, on the page that answers the "add" form, and is stored
  nowhere (not in the database, not in a message cookie or session): only its hash is kept.
  Everywhere else a key is its 12-character prefix.
- Keys are revoked (an action), never deleted, so the history of who called stays readable.
- Credit moves only through the organization's "Top up / adjust credit" form, which writes a
  ledger line via accounts.services with the staff user and a required reason. Balances are
  read-only everywhere; the ledger is read-only.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts import scopes as known_scopes
from accounts.models import ApiKey, ApiKeyEvent, CreditTransaction, Organization, StaffAction
from accounts.services import MAX_CREDIT_MOVE_CENTS
from accounts.staff_services import (
    ADJUST_CREDIT_PERMISSION,
    CreditLimitExceeded,
    DailyCreditLimitExceeded,
    credit_limit_for,
    staff_api_key_create,
    staff_api_key_revoke,
    staff_api_key_update,
    staff_credit_move,
    staff_organization_create,
    staff_organization_rename,
)
from api.admin import ReadOnlyAdmin
from api.errors import InsufficientCredit

RECENT_LEDGER_LINES = 20


def ledger_url(organization) -> str:
    return (
        reverse("admin:accounts_credittransaction_changelist")
        + f"?organization__id__exact={organization.pk}"
    )


class CreditForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            (CreditTransaction.Kind.TOPUP, "Top up (money received)"),
            (CreditTransaction.Kind.ADJUSTMENT, "Adjustment (correction, up or down)"),
        ]
    )
    cents = forms.IntegerField(
        min_value=-MAX_CREDIT_MOVE_CENTS,
        max_value=MAX_CREDIT_MOVE_CENTS,
        help_text="Whole cents. A top-up is positive; an adjustment may be negative.",
    )
    reason = forms.CharField(max_length=500, help_text="Required; kept on the ledger line.")

    def clean(self):
        cleaned = super().clean()
        kind, cents = cleaned.get("kind"), cleaned.get("cents")
        if cents is not None:
            if cents == 0:
                self.add_error("cents", "Must not be zero.")
            elif kind == CreditTransaction.Kind.TOPUP and cents < 0:
                self.add_error("cents", "A top-up must be positive; use an adjustment.")
        return cleaned


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "balance_cents",
        "held_cents",
        "available",
        "active_keys",
        "created_at",
    ]
    search_fields = ["name"]
    readonly_fields = [
        "id",
        "balance_cents",
        "held_cents",
        "available",
        "created_at",
        "credit_actions",
        "recent_ledger",
        "api_keys_summary",
    ]
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name"]
        return [
            "name",
            "id",
            "created_at",
            "balance_cents",
            "held_cents",
            "available",
            "credit_actions",
            "recent_ledger",
            "api_keys_summary",
        ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_key_count=Count(
                    "api_keys",
                    filter=Q(api_keys__revoked_at__isnull=True)
                    & (
                        Q(api_keys__expires_at__isnull=True)
                        | Q(api_keys__expires_at__gt=timezone.now())
                    ),
                )
            )
        )

    def has_delete_permission(self, request, obj=None):
        return False  # the ledger is permanent

    def save_model(self, request, obj, form, change):
        # Through the audited services: a rename leaves a StaffAction row with both names.
        if change:
            staff_organization_rename(user=request.user, organization_id=obj.pk, name=obj.name)
            return
        created = staff_organization_create(user=request.user, name=obj.name)
        obj.pk, obj.created_at = created.pk, created.created_at
        obj._state.adding, obj._state.db = False, created._state.db

    @admin.display(description="available cents")
    def available(self, obj):
        return obj.available_cents

    @admin.display(description="active keys", ordering="active_key_count")
    def active_keys(self, obj):
        return obj.active_key_count

    @admin.display(description="credit")
    def credit_actions(self, obj):
        if not getattr(obj, "can_adjust_credit", False):
            return format_html('<a href="{}">Full ledger</a>', ledger_url(obj))
        return format_html(
            '<a class="button" href="{}">Top up / adjust credit</a> &nbsp; '
            '<a href="{}">Full ledger</a>',
            reverse("admin:accounts_organization_credit", args=[obj.pk]),
            ledger_url(obj),
        )

    @admin.display(description=f"last {RECENT_LEDGER_LINES} ledger lines")
    def recent_ledger(self, obj):
        lines = (
            CreditTransaction.objects.filter(organization=obj)
            .select_related("created_by")
            .order_by("-created_at", "-id")[:RECENT_LEDGER_LINES]
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    line.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    line.kind,
                    line.amount_cents,
                    line.held_change_cents,
                    line.balance_after_cents,
                    line.held_after_cents,
                    line.created_by or "",
                    line.note,
                )
                for line in lines
            ),
        )
        if not rows:
            return "no ledger lines yet"
        return format_html(
            "<table><thead><tr><th>when (UTC)</th><th>kind</th><th>amount</th>"
            "<th>held change</th><th>balance after</th><th>held after</th><th>by</th>"
            "<th>note</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="API keys")
    def api_keys_summary(self, obj):
        keys = obj.api_keys.order_by("-created_at")
        items = format_html_join(
            "",
            "<li>{}… {} ({})</li>",
            ((key.prefix, key.label, key_status(key)) for key in keys),
        )
        return format_html(
            '<ul>{}</ul><a href="{}?organization__id__exact={}">manage keys</a>',
            items or "none",
            reverse("admin:accounts_apikey_changelist"),
            obj.pk,
        )

    def get_urls(self):
        return [
            path(
                "<uuid:organization_id>/credit/",
                self.admin_site.admin_view(self.credit_view),
                name="accounts_organization_credit",
            ),
            *super().get_urls(),
        ]

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:  # for credit_actions, which is not given the request
            obj.can_adjust_credit = self.has_adjust_credit_permission(request, obj)
        return obj

    def has_adjust_credit_permission(self, request, obj=None):
        return request.user.has_perm(ADJUST_CREDIT_PERMISSION)

    def credit_view(self, request, organization_id):
        """The only way staff move credit: one ledger line, by this user, with a reason, and an
        audit row (accounts.staff_services.staff_credit_move)."""
        organization = get_object_or_404(Organization, pk=organization_id)
        if not self.has_adjust_credit_permission(request, organization):
            raise PermissionDenied
        form = CreditForm(request.POST or None)
        limit = credit_limit_for(request.user)
        if limit is not None:
            form.fields["cents"].help_text += f" You may move at most {limit} cents at a time."
        if request.method == "POST" and form.is_valid():
            kind, cents = form.cleaned_data["kind"], form.cleaned_data["cents"]
            reason = form.cleaned_data["reason"]
            try:
                entry = staff_credit_move(
                    user=request.user,
                    organization_id=organization.pk,
                    kind=kind,
                    cents=cents,
                    reason=reason,
                )
            except CreditLimitExceeded as exc:
                form.add_error(
                    "cents",
                    f"Support staff may move at most {exc.limit_cents} cents per top-up or "
                    "adjustment; ask a superuser for more.",
                )
            except DailyCreditLimitExceeded as exc:
                form.add_error(
                    "cents",
                    f"Support staff may move at most {exc.limit_cents} cents in 24 hours; you "
                    f"moved {exc.moved_cents} in the last 24 hours. Ask a superuser for more.",
                )
            except InsufficientCredit as exc:
                form.add_error(
                    "cents",
                    f"Only {exc.details['available_cents']} cents are available "
                    "(balance minus holds); an adjustment cannot take it below zero.",
                )
            else:
                messages.success(
                    request,
                    f"{entry.get_kind_display()} of {cents:+d} cents recorded; the balance "
                    f"is now {entry.balance_after_cents} cents.",
                )
                return redirect("admin:accounts_organization_change", organization.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": organization,
            "organization": organization,
            "form": form,
            "title": f"Top up / adjust credit: {organization.name}",
        }
        return TemplateResponse(request, "admin/accounts/organization/credit.html", context)


def key_status(key: ApiKey) -> str:
    if key.revoked_at:
        return "revoked"
    if key.expires_at and key.expires_at <= timezone.now():
        return "expired"
    return "active"


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in known_scopes.ALL],
        initial=list(known_scopes.CUSTOMER_DEFAULT),
        widget=forms.CheckboxSelectMultiple,
        help_text="A scope never implies another. platform:inventory:write is staff-grade.",
    )

    class Meta:
        model = ApiKey
        fields = ["organization", "label", "scopes", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = [
        "visible_prefix",
        "organization",
        "label",
        "scope_list",
        "status",
        "created_at",
        "last_used_at",
        "expires_at",
    ]
    list_select_related = ["organization"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "label", "organization__name"]
    autocomplete_fields = ["organization"]
    actions = ["revoke_selected"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "organization",
            "visible_prefix",
            "created_at",
            "last_used_at",
            "revoked_at",
            "status",
        ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "label", "scopes", "expires_at"]
        return [
            "visible_prefix",
            "organization",
            "status",
            "label",
            "scopes",
            "expires_at",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the key's history stays readable

    @admin.display(description="key", ordering="prefix")
    def visible_prefix(self, obj):
        return f"{obj.prefix}…"

    @admin.display(description="scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    @admin.display(description="status")
    def status(self, obj):
        return key_status(obj)

    def save_model(self, request, obj, form, change):
        if change:
            # Audited field by field: a scope granted here shows in the log.
            staff_api_key_update(
                user=request.user,
                api_key_id=obj.pk,
                label=form.cleaned_data["label"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.cleaned_data["expires_at"],
            )
            return
        key, secret = staff_api_key_create(
            user=request.user,
            organization=form.cleaned_data["organization"],
            scopes=form.cleaned_data["scopes"],
            label=form.cleaned_data["label"],
            expires_at=form.cleaned_data["expires_at"],
        )
        # The admin goes on with `obj` (history entry, redirect); make it the saved key.
        obj.__dict__.update({f.attname: getattr(key, f.attname) for f in ApiKey._meta.fields})
        obj._state.adding, obj._state.db = False, key._state.db
        # Kept on the request only, for response_add to show once; never stored.
        request._new_api_key_secret = secret

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_new_api_key_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "key": obj,
            "secret": secret,
            "title": "API key created: copy its secret now",
        }
        response = TemplateResponse(request, "admin/accounts/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            revoked += staff_api_key_revoke(user=request.user, api_key=key)
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)


@admin.register(CreditTransaction)
class CreditTransactionAdmin(ReadOnlyAdmin):
    """The ledger, read-only. Credit moves through the organization's credit form."""

    list_display = [
        "created_at",
        "organization",
        "kind",
        "amount_cents",
        "held_change_cents",
        "balance_after_cents",
        "held_after_cents",
        "order_id",
        "created_by",
        "note",
    ]
    list_select_related = ["organization", "created_by"]
    list_filter = ["kind"]
    search_fields = ["organization__name", "=order_id", "note"]
    show_full_result_count = False


@admin.register(StaffAction)
class StaffActionAdmin(ReadOnlyAdmin):
    """The audit log of the back office, read-only: written by the staff entry points
    (<app>/staff_services.py) in the transaction of each change."""

    list_display = ["at", "user", "action", "target_type", "target_repr", "reason"]
    list_filter = [("user", admin.RelatedOnlyFieldListFilter), "action", "target_type"]
    search_fields = ["=target_id", "target_repr", "reason"]
    list_select_related = ["user"]
    date_hierarchy = "at"
    fields = [
        "at",
        "user",
        "action",
        "target_type",
        "target_id",
        "target_repr",
        "reason",
        "details",
    ]
    readonly_fields = fields
    show_full_result_count = False


@admin.register(ApiKeyEvent)
class ApiKeyEventAdmin(ReadOnlyAdmin):
    """The audit log of key management through the API (/v1/api-keys: created, rotated,
    revoked, and by which key), read-only: written by accounts.services in the transaction of
    each change. Search by a key's prefix (the changed or the calling key; a rotated key also by
    the prefix it had before), an organization's name, the action or a request id."""

    list_display = ["at", "action", "api_key", "organization", "actor_key", "request_id"]
    list_filter = ["action"]
    search_fields = [
        "api_key__prefix",
        "api_key__previous_prefix",
        "actor_key__prefix",
        "organization__name",
        "=action",
        "=request_id",
    ]
    list_select_related = ["api_key", "organization", "actor_key"]
    date_hierarchy = "at"
    fields = ["at", "action", "api_key", "organization", "actor_key", "request_id", "details"]
    readonly_fields = fields
    show_full_result_count = False
