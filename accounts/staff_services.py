"""What staff do to organizations, keys and credit from the back office: the same services as
the API and the commands, plus the permission checks that depend on the amount and an audit
row (accounts.StaffAction) written in the same transaction."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Abs
from django.utils import timezone

from accounts import scopes as known_scopes
from accounts.audit import Action, record_staff_action
from accounts.models import ApiKey, CreditTransaction, Organization
from accounts.services import (
    api_key_create,
    api_key_revoke,
    credit_adjust,
    credit_topup,
    organization_create,
)

ADJUST_CREDIT_PERMISSION = "accounts.adjust_credit"


class CreditLimitExceeded(ValueError):
    """A staff user who is not a superuser moved more than SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS."""

    def __init__(self, limit_cents: int):
        self.limit_cents = limit_cents
        super().__init__(f"at most {limit_cents} cents per top-up or adjustment")


class DailyCreditLimitExceeded(ValueError):
    """A staff user who is not a superuser would move more than SUPPORT_CREDIT_DAILY_LIMIT_CENTS
    in 24 hours."""

    def __init__(self, *, limit_cents: int, moved_cents: int):
        self.limit_cents, self.moved_cents = limit_cents, moved_cents
        super().__init__(
            f"at most {limit_cents} cents per 24 hours; {moved_cents} moved in the last 24 hours"
        )


def credit_moved_last_24h(user) -> int:
    """Cents `user` moved (top-ups and adjustments, up or down, any organization) in the last
    24 hours: the sum of the absolute amounts of the ledger lines they created."""
    since = timezone.now() - timedelta(hours=24)
    lines = CreditTransaction.objects.filter(created_by=user, created_at__gt=since)
    return lines.aggregate(moved=Sum(Abs("amount_cents")))["moved"] or 0


def ensure_within_daily_limit(*, user, cents: int) -> None:
    """Must run in the transaction of the move. The staff user's row is locked first (before
    any organization lock), so two moves by the same user, even on two organizations, are
    counted one after the other and cannot both slip under the cap."""
    if user.is_superuser:
        return
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    moved, limit = credit_moved_last_24h(user), settings.SUPPORT_CREDIT_DAILY_LIMIT_CENTS
    if moved + abs(cents) > limit:
        raise DailyCreditLimitExceeded(limit_cents=limit, moved_cents=moved)


def credit_limit_for(user) -> int | None:
    """The largest absolute amount `user` may move in one go (None: no limit of ours)."""
    return None if user.is_superuser else settings.SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS


@transaction.atomic
def staff_credit_move(
    *, user, organization_id, kind: str, cents: int, reason: str
) -> CreditTransaction:
    """A top-up or an adjustment by a staff user with accounts.adjust_credit: one ledger line
    (created_by=user, note=reason) and one audit row, or nothing. Users who are not superusers
    may move at most SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS (absolute value) per line, else
    CreditLimitExceeded, and at most SUPPORT_CREDIT_DAILY_LIMIT_CENTS in any 24 hours
    (rolling), else DailyCreditLimitExceeded. Raises what credit_topup / credit_adjust raise
    (InsufficientCredit, ValueError) with nothing written."""
    if not user.has_perm(ADJUST_CREDIT_PERMISSION):
        raise PermissionDenied
    if not reason.strip():
        raise ValueError("a reason is required")
    limit = credit_limit_for(user)
    if limit is not None and abs(cents) > limit:
        raise CreditLimitExceeded(limit)
    ensure_within_daily_limit(user=user, cents=cents)
    move = credit_topup if kind == CreditTransaction.Kind.TOPUP else credit_adjust
    if kind not in (CreditTransaction.Kind.TOPUP, CreditTransaction.Kind.ADJUSTMENT):
        raise ValueError(f"unknown kind {kind!r}")
    entry = move(organization_id=organization_id, cents=cents, note=reason, created_by=user)
    record_staff_action(
        user=user,
        action=Action.CREDIT_TOPUP
        if kind == CreditTransaction.Kind.TOPUP
        else Action.CREDIT_ADJUST,
        target=entry.organization,
        reason=reason,
        details={
            "cents": cents,
            "ledger_line": str(entry.pk),
            "balance_after_cents": entry.balance_after_cents,
        },
    )
    return entry


@transaction.atomic
def staff_api_key_create(
    *, user, organization, scopes, label: str = "", expires_at=None
) -> tuple[ApiKey, str]:
    """api_key_create, audited (the prefix, never the secret)."""
    key, secret = api_key_create(
        organization=organization, scopes=scopes, label=label, expires_at=expires_at
    )
    record_staff_action(
        user=user,
        action=Action.API_KEY_CREATE,
        target=key,
        details={
            "organization": str(organization.pk),
            "prefix": key.prefix,
            "scopes": key.scopes,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return key, secret


@transaction.atomic
def staff_api_key_revoke(*, user, api_key: ApiKey, reason: str = "") -> bool:
    """api_key_revoke, audited. False (and no audit row) if the key was already revoked."""
    was_revoked = ApiKey.objects.select_for_update().get(pk=api_key.pk).revoked_at is not None
    if was_revoked:
        return False
    api_key_revoke(api_key=api_key)
    record_staff_action(
        user=user,
        action=Action.API_KEY_REVOKE,
        target=api_key,
        reason=reason,
        details={"organization": str(api_key.organization_id), "prefix": api_key.prefix},
    )
    return True


@transaction.atomic
def staff_organization_create(*, user, name: str) -> Organization:
    """organization_create from the back office, audited."""
    organization = organization_create(name=name, created_by=user)
    record_staff_action(user=user, action=Action.ORGANIZATION_CREATE, target=organization)
    return organization


@transaction.atomic
def staff_organization_rename(*, user, organization_id, name: str) -> Organization:
    """Rename an organization, audited with the old and the new name (none if unchanged)."""
    organization = Organization.objects.select_for_update().get(pk=organization_id)
    old = organization.name
    if old != name:
        organization.name = name
        organization.save(update_fields=["name"])
        record_staff_action(
            user=user,
            action=Action.ORGANIZATION_RENAME,
            target=organization,
            details={"old_name": old, "new_name": name},
        )
    return organization


KEY_EDITABLE_FIELDS = ("label", "scopes", "expires_at")


def _key_field(key, name):
    value = getattr(key, name)
    return value.isoformat() if hasattr(value, "isoformat") else value


@transaction.atomic
def staff_api_key_update(*, user, api_key_id, label: str, scopes, expires_at) -> ApiKey:
    """Change a key's label, scopes or expiry from the back office, audited with each changed
    field's value before and after (granting platform:inventory:write shows there). No audit row
    when nothing changed."""
    key = ApiKey.objects.select_for_update().get(pk=api_key_id)
    before = {name: _key_field(key, name) for name in KEY_EDITABLE_FIELDS}
    unknown = [scope for scope in scopes if scope not in known_scopes.ALL]
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}")
    key.label, key.scopes, key.expires_at = label, sorted(set(scopes)), expires_at
    after = {name: _key_field(key, name) for name in KEY_EDITABLE_FIELDS}
    changed = {
        name: {"before": before[name], "after": after[name]}
        for name in KEY_EDITABLE_FIELDS
        if before[name] != after[name]
    }
    if changed:
        key.save(update_fields=list(changed))
        record_staff_action(
            user=user,
            action=Action.API_KEY_CHANGE,
            target=key,
            details={"organization": str(key.organization_id), "changed": changed},
        )
    return key
