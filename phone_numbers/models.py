import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from phone_numbers import numbering


class NumberType(models.TextChoices):
    LOCAL = numbering.LOCAL, "Local"
    TOLL_FREE = numbering.TOLL_FREE, "Toll-free"


class PhoneNumber(models.Model):
    """One number of inventory. Only phone_numbers.allocation claims a number
    (available -> assigned); only phone_numbers.services.release releases one."""

    class State(models.TextChoices):
        AVAILABLE = "available"
        ASSIGNED = "assigned"  # to one organization (organization and assigned_at set)
        QUARANTINED = "quarantined"
        RETURNED = "returned"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Unique through Meta.constraints, not unique=True: on PostgreSQL Django adds a second,
    # varchar_pattern_ops index beside a unique CharField, and every claimed row writes it.
    number = models.CharField(max_length=16)
    number_type = models.CharField(max_length=10, choices=NumberType.choices)
    area_code = models.CharField(max_length=3)
    state = models.CharField(max_length=12, choices=State.choices, default=State.AVAILABLE)
    # No index of its own: phonenumber_owned_idx starts with organization (and holds exactly
    # the rows where it is set), so it serves the owner's lookups and the PROTECT check.
    organization = models.ForeignKey(
        "accounts.Organization",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="phone_numbers",
        db_index=False,
    )
    # The bulk order that assigned the number, if any. A plain column, not a foreign key:
    # orders sits above this app and points here, never the other way (README: Layout).
    order_id = models.UUIDField(null=True, blank=True, db_index=True)
    inbound_url = models.URLField(max_length=2048, null=True, blank=True)
    status_url = models.URLField(max_length=2048, null=True, blank=True)
    label = models.CharField(max_length=64, null=True, blank=True)
    sms_enabled = models.BooleanField(default=True)
    mms_enabled = models.BooleanField(default=True)
    voice_enabled = models.BooleanField(default=True)
    # The active hold on this number (Reservation), if any. Kept on the number row, not only
    # in ReservationNumber, so every claim stays one statement over this table: it compares
    # reserved_until with now (expiry is effective at once, no sweeper needed) and reserved_by
    # with the claiming organization, with no join. Set and cleared only by
    # phone_numbers.allocation (reserve, claim) and phone_numbers.services.reservations
    # (release, tidy).
    reservation = models.ForeignKey(
        "Reservation", models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    reserved_by = models.ForeignKey(
        "accounts.Organization",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    reserved_until = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    quarantine_ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["number"]
        indexes = [
            # Claiming and searching available numbers by type and area code. `number` last:
            # a search or claim with an area code reads only the index (index-only scan) and
            # stops at LIMIT. Partial, so sold numbers do not bloat it.
            models.Index(
                fields=["number_type", "area_code", "number"],
                condition=Q(state="available"),
                name="phonenumber_available_idx",
            ),
            # An organization's numbers, newest first (keyset pagination on assigned_at, id).
            # Partial: most of the inventory belongs to nobody.
            models.Index(
                fields=["organization", "-assigned_at", "-id"],
                condition=Q(organization__isnull=False),
                name="phonenumber_owned_idx",
            ),
            # starts_with without an area code: a range of `number` among available numbers.
            models.Index(
                fields=["number"],
                condition=Q(state="available"),
                name="phonenumber_available_num_idx",
            ),
            # A reservation's numbers (release, extend) and an organization's active reserved
            # numbers (the cap). Partial: only held numbers are in them.
            models.Index(
                fields=["reservation"],
                condition=Q(reservation__isnull=False),
                name="phonenumber_reservation_idx",
            ),
            models.Index(
                fields=["reserved_by", "reserved_until"],
                condition=Q(reserved_by__isnull=False),
                name="phonenumber_reserved_by_idx",
            ),
            # Quarantines that have ended.
            models.Index(
                fields=["quarantine_ends_at"],
                condition=Q(state="quarantined"),
                name="phonenumber_quarantine_idx",
            ),
            # On PostgreSQL, `contains` (`number LIKE '%pattern%'`) also has a pg_trgm GIN index
            # among available numbers (migration 0010; 0004's covers every number, for the
            # admin) and `ends_with` a btree on reverse(number) among available numbers
            # (migration 0009): SQLite has neither.
        ]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="phonenumber_number_unique"),
            models.CheckConstraint(
                condition=Q(state="assigned", organization__isnull=False)
                | (~Q(state="assigned") & Q(organization__isnull=True)),
                name="phonenumber_owner_iff_assigned",
            ),
            models.CheckConstraint(
                condition=Q(
                    reservation__isnull=True, reserved_by__isnull=True, reserved_until__isnull=True
                )
                | Q(
                    reservation__isnull=False,
                    reserved_by__isnull=False,
                    reserved_until__isnull=False,
                ),
                name="phonenumber_reservation_complete",
            ),
        ]
        permissions = [
            # Superusers have it implicitly; returning to the carrier stays superuser-only.
            ("release_phonenumber", "Can release numbers from their organization (admin)"),
        ]

    def __str__(self):
        return self.number


class Reservation(models.Model):
    """A hold on specific available numbers for one organization until `expires_at`
    (API.md §2.2). The numbers held are ReservationNumber rows (kept after the hold ends, so the
    reservation still lists them); the live hold is the (reservation, reserved_by,
    reserved_until) columns on each PhoneNumber, which is what claims compare, in the same
    statement that claims. A reservation past its expiry is `expired` at once for everyone
    (effective_status); the periodic tidy only writes that down and clears the columns.

    `status` as stored: active, released (by its organization or by staff), ordered (every
    reserved number was taken by its organization's explicit orders) or expired (tidied)."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        EXPIRED = "expired"
        RELEASED = "released"
        ORDERED = "ordered"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", models.PROTECT, related_name="reservations"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # The requested numbers it could not hold, as answered at creation (GET shows them too).
    unavailable_numbers = models.JSONField(default=list, blank=True)
    # A staff release (the admin); None for the organization's own DELETE and for expiry.
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    MAX_LIFETIME_SECONDS = 4 * 60 * 60  # extend moves expires_at at most this far from creation

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="reservation_org_idx"),
            # The tidy task: active reservations past their expiry.
            models.Index(
                fields=["expires_at"],
                condition=Q(status="active"),
                name="reservation_active_idx",
            ),
        ]
        permissions = [("release_reservation", "Can release a reservation (admin)")]

    def __str__(self):
        return f"reservation {self.id} ({self.status})"

    def effective_status(self, now=None) -> str:
        now = now or timezone.now()
        if self.status == self.Status.ACTIVE and self.expires_at <= now:
            return self.Status.EXPIRED
        return self.status


class ReservationNumber(models.Model):
    """One number a reservation obtained, and whether its organization ordered it."""

    id = models.BigAutoField(primary_key=True)
    reservation = models.ForeignKey(Reservation, models.CASCADE, related_name="numbers")
    phone_number = models.ForeignKey(PhoneNumber, models.CASCADE, related_name="+")
    number = models.CharField(max_length=16)
    ordered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(
                fields=["reservation", "phone_number"], name="reservationnumber_unique"
            )
        ]

    def __str__(self):
        return self.number


class PhoneNumberEvent(models.Model):
    """One step in a number's life: released into quarantine or returned to the carrier (by
    phone_numbers.services.release, by its organization through the API or by staff, recording the
    assignment it ends), quarantine ended (by the periodic sweeper). Append-only. `assigned`
    entries of a history are derived (phone_numbers.selectors.number_history), not stored.

    `organization` is the owner the event is about (for a release: the organization that let it
    go; this is how bulk release tells `already_released` from `unknown`)."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned"  # derived by selectors.number_history, never stored
        RELEASED = "released"  # back to inventory after NUMBER_QUARANTINE_DAYS
        RETURNED = "returned"  # given back to the carrier, never sold again
        QUARANTINE_ENDED = "quarantine_ended"

    RELEASE_KINDS = (Kind.RELEASED, Kind.RETURNED)

    # A claim of 1000 numbers writes 1000 events, so the table carries only the indexes that
    # are read: (number, at) below. The foreign keys are not indexed on their own: events are
    # looked up by number; organizations, orders and keys are never deleted; a deleted staff
    # user's SET NULL scans this table once (rare, staff-only).
    id = models.BigAutoField(primary_key=True)
    number = models.ForeignKey(PhoneNumber, models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    organization = models.ForeignKey(
        "accounts.Organization",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    order_id = models.UUIDField(null=True, blank=True)  # a bulk order's id, as on PhoneNumber
    # Who did it: an API key (the organization through the API) or a staff user (the admin).
    # Neither for allocation and the sweeper.
    api_key = models.ForeignKey(
        "accounts.ApiKey", models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    request_id = models.CharField(max_length=26, blank=True)
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)
    # For a release or a return: when the assignment it ends began. Claims write no event (a
    # claim of 1000 numbers would write 1000 rows on the hottest path); the number row holds
    # its current assignment, and the event that ends it records it here.
    assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            # A number's history, and "did this organization release these numbers?".
            models.Index(fields=["number", "at"], name="phonenumberevent_number_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"


class NumberPrice(models.Model):
    """What one number of a type costs, charged once when it is assigned. Staff edit it."""

    number_type = models.CharField(max_length=10, choices=NumberType.choices, unique=True)
    price_cents = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["number_type"]

    def __str__(self):
        return f"{self.get_number_type_display()}: {self.price_cents} cents"
