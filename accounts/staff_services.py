"""What staff do to organizations, keys and credit from the back office: the same services as
the API and the commands, plus the permission checks that depend on the amount and an audit
row (accounts.StaffAction) written in the same transaction."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts.audit import Action, record_staff_action
from accounts.models import ApiKey, CreditTransaction
from accounts.services import api_key_create, api_key_revoke, credit_adjust, credit_topup

ADJUST_CREDIT_PERMISSION = "accounts.adjust_credit"


class CreditLimitExceeded(ValueError):
    """A staff user who is not a superuser moved more than SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS."""

    def __init__(self, limit_cents: int):
        self.limit_cents = limit_cents
        super().__init__(f"at most {limit_cents} cents per top-up or adjustment")


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
    CreditLimitExceeded. Raises what credit_topup / credit_adjust raise (InsufficientCredit,
    ValueError) with nothing written."""
    if not user.has_perm(ADJUST_CREDIT_PERMISSION):
        raise PermissionDenied
    if not reason.strip():
        raise ValueError("a reason is required")
    limit = credit_limit_for(user)
    if limit is not None and abs(cents) > limit:
        raise CreditLimitExceeded(limit)
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
