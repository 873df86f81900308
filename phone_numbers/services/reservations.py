"""Every write to reservations (API.md §2.2): create, extend, release, and the tidy of expired
ones. Holding a number is phone_numbers.allocation's (reserve_listed_numbers), like every claim.

Lock order, as everywhere: organization, then numbers (then the reservation row, which only
explicit orders of its own organization touch after its numbers). Create, extend and release lock
the organization first, so an organization's reservation writes and its explicit orders are
serialized, and the per-organization cap is counted exactly."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.services import lock_organization
from api.errors import InsufficientInventory, NotFound, ReservationNotActive, ValidationFailed
from phone_numbers.allocation import ReservationCapExceeded, reserve_listed_numbers
from phone_numbers.models import PhoneNumber, Reservation

Status = Reservation.Status
TIDY_BATCH_SIZE = 500
_HOLD_CLEARED = {"reservation": None, "reserved_by": None, "reserved_until": None}


@transaction.atomic
def reservation_create(*, organization_id, numbers: list[str], ttl_seconds: int) -> Reservation:
    """Hold each listed number that is available and not held by an unexpired reservation, for
    ttl_seconds. Partial success is normal: the reservation records the numbers it could not
    hold (`unavailable_numbers`). Guarantees: a number is held by at most one reservation at a
    time; if none can be held, InsufficientInventory (409, details.unavailable_numbers) and
    nothing is recorded; if the organization would hold more than
    RESERVATION_MAX_ACTIVE_NUMBERS unexpired numbers, ValidationFailed (422) and nothing is
    held. Nothing is charged."""
    organization = lock_organization(organization_id)
    now = timezone.now()
    reservation = Reservation.objects.create(
        organization=organization, created_at=now, expires_at=now + timedelta(seconds=ttl_seconds)
    )
    maximum = settings.RESERVATION_MAX_ACTIVE_NUMBERS
    try:
        reserved, unavailable = reserve_listed_numbers(
            reservation=reservation, numbers=numbers, max_active=maximum
        )
    except ReservationCapExceeded as exc:
        raise ValidationFailed(
            {
                "numbers": (
                    f"an organization may hold at most {exc.maximum} numbers in active "
                    f"reservations: you hold {exc.held}, and {exc.requested} of these are "
                    "free to reserve"
                )
            }
        ) from exc
    if not reserved:
        # The atomic block rolls the empty reservation back.
        raise InsufficientInventory(
            details={"available_count": 0, "unavailable_numbers": unavailable}
        )
    reservation.unavailable_numbers = unavailable
    reservation.save(update_fields=["unavailable_numbers"])
    return reservation


def _locked_reservation(organization_id, reservation_id) -> Reservation:
    lock_organization(organization_id)
    reservation = (
        Reservation.objects.select_for_update()
        .filter(organization_id=organization_id, pk=reservation_id)
        .first()
    )
    if reservation is None:
        raise NotFound()
    return reservation


@transaction.atomic
def reservation_extend(*, organization_id, reservation_id, ttl_seconds: int) -> Reservation:
    """Move an active reservation's expiry to now + ttl_seconds, capped at
    Reservation.MAX_LIFETIME_SECONDS after its creation (the answer shows the expiry set).
    A reservation that expired, was released or was ordered: ReservationNotActive (409), nothing
    changed. Another organization's id: NotFound."""
    reservation = _locked_reservation(organization_id, reservation_id)
    now = timezone.now()
    status = reservation.effective_status(now)
    if status != Status.ACTIVE:
        raise ReservationNotActive(details={"status": status})
    latest = reservation.created_at + timedelta(seconds=Reservation.MAX_LIFETIME_SECONDS)
    reservation.expires_at = min(now + timedelta(seconds=ttl_seconds), latest)
    reservation.save(update_fields=["expires_at"])
    # Its numbers still held (those it ordered are no longer marked with it).
    PhoneNumber.objects.filter(reservation=reservation).update(
        reserved_until=reservation.expires_at
    )
    return reservation


@transaction.atomic
def reservation_release(*, organization_id, reservation_id, staff_user=None) -> Reservation:
    """Release an active reservation now: its numbers still held are free at once. Releasing
    one that already ended changes nothing and returns it as it is (DELETE is idempotent)."""
    reservation = _locked_reservation(organization_id, reservation_id)
    now = timezone.now()
    if reservation.effective_status(now) == Status.ACTIVE:
        PhoneNumber.objects.filter(reservation=reservation).update(**_HOLD_CLEARED)
        reservation.status = Status.RELEASED
        reservation.ended_at = now
        reservation.released_by = staff_user
        reservation.save(update_fields=["status", "ended_at", "released_by"])
    return reservation


def reservations_tidy(*, batch_size: int = TIDY_BATCH_SIZE) -> int:
    """Write down reservations that expired (status `expired`) and clear the hold columns of
    their numbers, in short transactions of batch_size reservations. Returns how many were
    tidied. Claims do not wait for this: they compare the expiry time themselves."""
    tidied = 0
    while True:
        with transaction.atomic():
            now = timezone.now()
            batch = list(
                Reservation.objects.select_for_update(skip_locked=True)
                .filter(status=Status.ACTIVE, expires_at__lte=now)
                .order_by("expires_at")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                return tidied
            # Numbers first, in primary-key order, skipping any a claim holds right now (that
            # claim clears the columns itself).
            held = list(
                PhoneNumber.objects.select_for_update(skip_locked=True)
                .filter(reservation_id__in=batch, reserved_until__lte=now)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            PhoneNumber.objects.filter(pk__in=held, reserved_until__lte=now).update(**_HOLD_CLEARED)
            for reservation in Reservation.objects.filter(pk__in=batch, status=Status.ACTIVE):
                reservation.status = Status.EXPIRED
                reservation.ended_at = reservation.expires_at
                reservation.save(update_fields=["status", "ended_at"])
            tidied += len(batch)
