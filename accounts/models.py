import hashlib
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

API_KEY_PREFIX = "am_live_"
API_KEY_VISIBLE_CHARS = 12


def hash_api_key_secret(secret: str) -> str:
    # The secret carries 256 random bits, so a fast hash is enough: there is nothing to guess.
    return hashlib.sha256(secret.encode()).hexdigest()


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    # Money the organization owns (sum of its ledger) and the part of it reserved by holds for
    # backordered orders. Only accounts.services moves them, with the row locked.
    balance_cents = models.BigIntegerField(default=0, editable=False)
    held_cents = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("adjust_credit", "Can top up or adjust credit (support: within a limit)"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(balance_cents__gte=0), name="balance_not_negative"),
            models.CheckConstraint(condition=Q(held_cents__gte=0), name="held_not_negative"),
            models.CheckConstraint(
                condition=Q(held_cents__lte=F("balance_cents")), name="held_within_balance"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def available_cents(self) -> int:
        return self.balance_cents - self.held_cents


class ApiKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, models.CASCADE, related_name="api_keys")
    # The first 12 characters of the secret ("am_live_xxxx"), to look the key up and to show it.
    prefix = models.CharField(max_length=API_KEY_VISIBLE_CHARS, db_index=True, editable=False)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    # After a rotation the secret it replaced keeps working until previous_secret_expires_at
    # (the grace period), so a client can switch over without downtime. One previous secret at
    # most: rotating again ends the older one's grace at once.
    previous_prefix = models.CharField(
        max_length=API_KEY_VISIBLE_CHARS, blank=True, db_index=True, editable=False
    )
    previous_secret_hash = models.CharField(max_length=64, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        indexes = [models.Index(fields=["organization", "-created_at", "-id"])]

    def __str__(self):
        return f"{self.prefix}… ({self.label or 'no label'})"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def previous_secret_valid(self, now=None) -> bool:
        return bool(self.previous_secret_hash) and (
            self.previous_secret_expires_at is not None
            and self.previous_secret_expires_at > (now or timezone.now())
        )


class ApiKeyEvent(models.Model):
    """The audit log of key management through the API: which key was created, rotated or
    revoked, by which key (the caller) and in which request. Written in the transaction of the
    change (accounts.services); staff changes go to StaffAction instead. Read-only."""

    class Action(models.TextChoices):
        CREATED = "created"
        ROTATED = "rotated"
        REVOKED = "revoked"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, models.PROTECT, related_name="+")
    api_key = models.ForeignKey(ApiKey, models.PROTECT, related_name="events")
    # The key that made the call; null for a change not made through the API.
    actor_key = models.ForeignKey(ApiKey, models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=20, choices=Action.choices)
    request_id = models.CharField(max_length=26, blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "API key event"

    def __str__(self):
        return f"{self.action} {self.api_key_id}"


class CreditTransaction(models.Model):
    """One line of an organization's ledger. `amount_cents` is the line's effect on the balance,
    so the balance is always the sum of `amount_cents`. Holds reserve credit without moving the
    balance, so a hold or release line has amount 0 and says in `held_change_cents` how much it
    reserved (+) or freed (-); a charge taken from a hold frees its share of it too."""

    class Kind(models.TextChoices):
        TOPUP = "topup"
        CHARGE = "charge"
        HOLD = "hold"
        RELEASE = "release"
        REFUND = "refund"
        ADJUSTMENT = "adjustment"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount_cents = models.BigIntegerField()
    held_change_cents = models.BigIntegerField(default=0)
    balance_after_cents = models.BigIntegerField()
    held_after_cents = models.BigIntegerField()
    # A bulk order's id (string, so this app does not depend on orders).
    order_id = models.UUIDField(null=True, blank=True, db_index=True)
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at", "-id"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance_after_cents__gte=0), name="ledger_balance_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount_cents:+d}c"


class StaffAction(models.Model):
    """The audit log of the back office: one row per change a staff user made, written in the
    same transaction as the change by the staff entry points (accounts/audit.py). Read-only."""

    class Action(models.TextChoices):
        CREDIT_TOPUP = "credit_topup", "credit top-up"
        CREDIT_ADJUST = "credit_adjust", "credit adjustment"
        API_KEY_CREATE = "api_key_create", "API key created"
        API_KEY_REVOKE = "api_key_revoke", "API key revoked"
        ORDER_CLOSE = "order_close", "bulk order closed"
        ORDER_RETRY = "order_retry", "bulk order retried"
        PRICE_CHANGE = "price_change", "price changed"
        WEBHOOK_REDELIVER = "webhook_redeliver", "webhook redelivered"
        WEBHOOK_ENDPOINT_CHANGE = "webhook_endpoint_change", "webhook endpoint changed"
        INVENTORY_IMPORT = "inventory_import", "inventory imported"
        NUMBERS_RELEASE = "numbers_release", "numbers released"
        NUMBERS_RETURN = "numbers_return", "numbers returned to the carrier"
        API_KEY_CHANGE = "api_key_change", "API key changed"
        ORGANIZATION_CREATE = "organization_create", "organization created"
        ORGANIZATION_RENAME = "organization_rename", "organization renamed"
        TWO_FACTOR_ENROL = "two_factor_enrol", "two-factor device enrolled"
        TWO_FACTOR_RESET = "two_factor_reset", "two-factor devices reset"
        RESERVATION_RELEASE = "reservation_release", "reservation released"

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="staff_actions")
    action = models.CharField(max_length=40, choices=Action.choices)
    # What was changed: "app_label.model", its primary key and how it read at the time.
    target_type = models.CharField(max_length=100)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="staffaction_target_idx")]

    def __str__(self):
        return f"{self.user} {self.action} {self.target_repr or self.target_id}"
