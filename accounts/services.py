"""Every write to organizations, API keys and credit. Credit moves only through
`post_ledger_entry`, on an organization row locked by `lock_organization`, so the balance is
always the sum of the ledger and the database's check constraints (balance >= 0, held >= 0,
held <= balance) are the last line of defence rather than the only one."""

import functools
import secrets
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from accounts import scopes as known_scopes
from accounts.models import (
    API_KEY_PREFIX,
    API_KEY_VISIBLE_CHARS,
    ApiKey,
    ApiKeyEvent,
    CreditTransaction,
    Organization,
    hash_api_key_secret,
)
from api.errors import Forbidden, InsufficientCredit, InvalidInput
from api.sql import column_list, insert_sql, instance_from_row, saved

Kind = CreditTransaction.Kind

# No single credit movement is larger than this (10 billion dollars): far beyond any real
# top-up, and far below what would overflow the 64-bit balance.
MAX_CREDIT_MOVE_CENTS = 10**12


class InvalidScopes(ValueError):
    pass


def organization_create(*, name: str, credit_cents: int = 0, created_by=None) -> Organization:
    """Create an organization, with an opening top-up when credit_cents > 0."""
    if not 0 <= credit_cents <= MAX_CREDIT_MOVE_CENTS:
        raise ValueError(f"credit must be from 0 to {MAX_CREDIT_MOVE_CENTS} cents")
    with transaction.atomic():
        organization = Organization.objects.create(name=name)
        if credit_cents:
            credit_topup(
                organization_id=organization.id,
                cents=credit_cents,
                note="opening credit",
                created_by=created_by,
            )
    organization.refresh_from_db()
    return organization


def api_key_create(
    *,
    organization: Organization,
    scopes=known_scopes.CUSTOMER_DEFAULT,
    label: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret. The secret is returned once, here, and only
    its hash is stored."""
    scopes = sorted(set(scopes))
    unknown = [scope for scope in scopes if scope not in known_scopes.ALL]
    if unknown:
        raise InvalidScopes(f"unknown scopes: {', '.join(unknown)}")
    secret = _new_secret()
    key = ApiKey.objects.create(
        organization=organization,
        prefix=secret[:API_KEY_VISIBLE_CHARS],
        secret_hash=hash_api_key_secret(secret),
        scopes=scopes,
        label=label,
        expires_at=expires_at,
    )
    return key, secret


def _new_secret() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)  # 43 URL-safe characters


def ensure_grantable_scopes(*, requested: list, caller: ApiKey) -> list[str]:
    """The scopes a key may give a new key through the API, sorted: each must be known, named
    once, not the staff-grade platform scope, and held by the calling key (a key can never mint
    a stronger one). Unknown or duplicate: InvalidInput (400); not grantable: Forbidden (403)."""
    unknown = [scope for scope in requested if scope not in known_scopes.ALL]
    if unknown:
        raise InvalidInput(
            "unknown scopes", details={"scopes": f"unknown scope: {', '.join(unknown)[:200]}"}
        )
    duplicates = sorted({scope for scope in requested if requested.count(scope) > 1})
    if duplicates:
        raise InvalidInput(
            "duplicate scopes", details={"scopes": f"named more than once: {', '.join(duplicates)}"}
        )
    if known_scopes.PLATFORM_INVENTORY_WRITE in requested:
        raise Forbidden(
            "scope cannot be granted through the API",
            details={"scopes": f"{known_scopes.PLATFORM_INVENTORY_WRITE} is staff-grade"},
        )
    not_held = [scope for scope in requested if scope not in caller.scopes]
    if not_held:
        raise Forbidden(
            "missing required scope",
            details={"scopes": f"not held by the calling key: {', '.join(not_held)}"},
        )
    return sorted(requested)


def _record_key_event(
    *, api_key: ApiKey, actor_key: ApiKey, action: str, request_id: str, **details
):
    ApiKeyEvent.objects.create(
        organization_id=api_key.organization_id,
        api_key=api_key,
        actor_key=actor_key,
        action=action,
        request_id=request_id or "",
        details=details,
    )


@transaction.atomic
def api_key_issue(
    *,
    caller: ApiKey,
    scopes: list,
    label: str = "",
    expires_at: datetime | None = None,
    request_id: str = "",
) -> tuple[ApiKey, str]:
    """A new key of the caller's organization, made by the caller through the API, and its
    secret (returned once, only the hash is stored). Its scopes pass ensure_grantable_scopes;
    an ApiKeyEvent naming the caller is written with it, or nothing is."""
    granted = ensure_grantable_scopes(requested=scopes, caller=caller)
    key, secret = api_key_create(
        organization=caller.organization, scopes=granted, label=label, expires_at=expires_at
    )
    _record_key_event(
        api_key=key,
        actor_key=caller,
        action=ApiKeyEvent.Action.CREATED,
        request_id=request_id,
        prefix=key.prefix,
        scopes=granted,
        expires_at=expires_at.isoformat() if expires_at else None,
    )
    return key, secret


class KeyNotActive(ValueError):
    """The key is revoked or expired: it cannot be given a new secret."""


@transaction.atomic
def api_key_rotate(
    *, api_key: ApiKey, caller: ApiKey, grace_seconds: int, request_id: str = ""
) -> tuple[ApiKey, str]:
    """Give the key a new secret (and prefix) and return it once. The secret it replaces keeps
    working for grace_seconds (0: it stops at once); a secret still in an earlier grace period
    stops at once, so a key never has more than two live secrets. The key row is locked, so
    two rotations at once are applied one after the other: the second one's "previous" is the
    first one's new secret, and no secret handed out is lost. KeyNotActive if the key is
    revoked or expired."""
    key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    now = timezone.now()
    if not key.is_active(now):
        raise KeyNotActive
    secret = _new_secret()
    if grace_seconds > 0:
        key.previous_prefix, key.previous_secret_hash = key.prefix, key.secret_hash
        key.previous_secret_expires_at = now + timedelta(seconds=grace_seconds)
    else:
        key.previous_prefix, key.previous_secret_hash = "", ""
        key.previous_secret_expires_at = None
    key.prefix, key.secret_hash = secret[:API_KEY_VISIBLE_CHARS], hash_api_key_secret(secret)
    key.save(
        update_fields=[
            "prefix",
            "secret_hash",
            "previous_prefix",
            "previous_secret_hash",
            "previous_secret_expires_at",
        ]
    )
    _record_key_event(
        api_key=key,
        actor_key=caller,
        action=ApiKeyEvent.Action.ROTATED,
        request_id=request_id,
        prefix=key.prefix,
        previous_prefix=key.previous_prefix or None,
        grace_seconds=grace_seconds,
    )
    return key, secret


@transaction.atomic
def api_key_revoke_by(*, api_key: ApiKey, caller: ApiKey, request_id: str = "") -> ApiKey:
    """Revoke a key through the API (the caller may be the key itself): the next request with
    either of its secrets is refused. Idempotent: revoking a revoked key changes nothing and
    writes no second event."""
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    api_key.refresh_from_db()
    if revoked:
        _record_key_event(
            api_key=api_key,
            actor_key=caller,
            action=ApiKeyEvent.Action.REVOKED,
            request_id=request_id,
            prefix=api_key.prefix,
        )
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key; idempotent (the first revocation time is kept)."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db()
    return api_key


def lock_organization(organization_id) -> Organization:
    """Lock the organization row for the rest of the transaction. Callers that also lock phone
    numbers take this lock first, always, so two transactions never wait on each other in
    opposite orders."""
    return instance_from_row(Organization, _locked_row(organization_id))


def lock_organization_reading(organization_id, value: tuple[str, list]) -> tuple:
    """lock_organization, and one value another layer needs under the same lock, read in the
    same statement: `value` is a scalar subquery and its parameters (an order's price,
    orders.services.placing: one round trip less per order, issue 20). Returns (organization,
    the value, None when the subquery finds no row)."""
    row = _locked_row(organization_id, *value)
    return instance_from_row(Organization, row[:-1]), row[-1]


def _locked_row(organization_id, also_read: str = "", also_params=()) -> tuple:
    assert connection.in_atomic_block, "locking the organization needs a transaction"
    with connection.cursor() as cursor:
        cursor.execute(
            _lock_organization_sql(also_read), [*also_params, _organization_pk(organization_id)]
        )
        row = cursor.fetchone()
    if row is None:
        raise Organization.DoesNotExist(f"no organization {organization_id}")
    return row


@functools.cache
def _lock_organization_sql(also_read: str = "") -> str:
    """What Organization.objects.select_for_update().get(pk=...) sends, without compiling it
    for every order (api.sql); with `also_read`, that subquery's value as one more column (the
    lock applies to the organization's row only)."""
    table = connection.ops.quote_name(Organization._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    also = f", ({also_read})" if also_read else ""
    return f"SELECT {column_list(Organization)}{also} FROM {table} WHERE id = %s{lock}"


def _organization_pk(organization_id):
    return Organization._meta.pk.get_db_prep_value(organization_id, connection)


def post_ledger_entry(
    *,
    organization: Organization,
    kind: str,
    amount_cents: int = 0,
    held_change_cents: int = 0,
    order_id=None,
    note: str = "",
    created_by=None,
    along_with: tuple[str, list] | None = None,
) -> CreditTransaction:
    """Apply one ledger line to a locked organization: the balance moves by amount_cents, the
    held credit by held_change_cents, and the line records both results. `along_with` is one
    more write of the caller's, an INSERT and its parameters (the order the line pays for,
    orders.services.placing), sent in the same statement on PostgreSQL: one round trip less
    per order (issue 20)."""
    assert connection.in_atomic_block, "post_ledger_entry needs a transaction"
    organization.balance_cents += amount_cents
    organization.held_cents += held_change_cents
    line = CreditTransaction(
        organization=organization,
        kind=kind,
        amount_cents=amount_cents,
        held_change_cents=held_change_cents,
        balance_after_cents=organization.balance_cents,
        held_after_cents=organization.held_cents,
        order_id=order_id,
        note=note[:500],
        created_by=created_by,
    )
    # The organization's new totals and the line: one statement on PostgreSQL (a data-modifying
    # WITH runs to completion whether or not the INSERT reads it), two elsewhere. What
    # organization.save(update_fields=[...]) and CreditTransaction.objects.create() would send.
    move = (
        f"UPDATE {connection.ops.quote_name(Organization._meta.db_table)} "
        "SET balance_cents = %s, held_cents = %s WHERE id = %s"
    )
    move_params = [
        organization.balance_cents,
        organization.held_cents,
        _organization_pk(organization.pk),
    ]
    insert, insert_params = insert_sql(line)
    along_sql, along_params = along_with or ("", [])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            along = f", along AS ({along_sql})" if along_sql else ""
            cursor.execute(
                f"WITH moved AS ({move}){along} {insert}",
                move_params + along_params + insert_params,
            )
        else:
            if along_sql:
                cursor.execute(along_sql, along_params)
            cursor.execute(move, move_params)
            cursor.execute(insert, insert_params)
    return saved(line)


def ensure_available_credit(organization: Organization, cents: int) -> None:
    if organization.available_cents < cents:
        raise InsufficientCredit(
            required_cents=cents, available_cents=max(organization.available_cents, 0)
        )


@transaction.atomic
def credit_topup(*, organization_id, cents: int, note: str = "", created_by=None):
    """Add credit. cents must be positive."""
    if not 0 < cents <= MAX_CREDIT_MOVE_CENTS:
        raise ValueError(f"a top-up must be from 1 to {MAX_CREDIT_MOVE_CENTS} cents")
    organization = lock_organization(organization_id)
    return post_ledger_entry(
        organization=organization,
        kind=Kind.TOPUP,
        amount_cents=cents,
        note=note,
        created_by=created_by,
    )


@transaction.atomic
def credit_adjust(*, organization_id, cents: int, note: str, created_by=None):
    """A staff correction, up or down. Never takes available credit below zero: an adjustment
    down larger than the available credit raises InsufficientCredit and changes nothing."""
    if cents == 0 or abs(cents) > MAX_CREDIT_MOVE_CENTS:
        raise ValueError(
            f"an adjustment must be non-zero and at most {MAX_CREDIT_MOVE_CENTS} cents"
        )
    if not note.strip():
        raise ValueError("an adjustment needs a reason")
    organization = lock_organization(organization_id)
    if cents < 0:
        ensure_available_credit(organization, -cents)
    return post_ledger_entry(
        organization=organization,
        kind=Kind.ADJUSTMENT,
        amount_cents=cents,
        note=note,
        created_by=created_by,
    )


def credit_charge(
    *, organization: Organization, cents: int, order_id=None, note: str = "", along_with=None
):
    """Charge available credit now (immediate orders). The organization must be locked.
    `along_with`: as post_ledger_entry's."""
    ensure_available_credit(organization, cents)
    return post_ledger_entry(
        organization=organization,
        kind=Kind.CHARGE,
        amount_cents=-cents,
        order_id=order_id,
        note=note,
        along_with=along_with,
    )


def credit_hold(*, organization: Organization, cents: int, order_id, note: str = ""):
    """Reserve credit for a backorder: available credit drops, the balance does not."""
    ensure_available_credit(organization, cents)
    return post_ledger_entry(
        organization=organization,
        kind=Kind.HOLD,
        held_change_cents=cents,
        order_id=order_id,
        note=note or f"held {cents} cents for order {order_id}",
    )


def credit_charge_held(*, organization: Organization, cents: int, order_id, note: str = ""):
    """Turn part of a hold into a charge: balance and held credit drop together."""
    return post_ledger_entry(
        organization=organization,
        kind=Kind.CHARGE,
        amount_cents=-cents,
        held_change_cents=-cents,
        order_id=order_id,
        note=note,
    )


def credit_release(*, organization: Organization, cents: int, order_id, note: str = ""):
    """Free the unused part of a hold."""
    return post_ledger_entry(
        organization=organization,
        kind=Kind.RELEASE,
        held_change_cents=-cents,
        order_id=order_id,
        note=note or f"released {cents} cents held for order {order_id}",
    )
