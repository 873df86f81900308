"""Upstream supply of phone numbers (API.md §6, docs/carriers.md). Everything that talks to a
carrier goes through `get_carrier()`, which returns the adapter named by
settings.CARRIER_BACKEND. A real carrier is one more class implementing `carriers.base.Carrier`,
registered in BACKENDS."""

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from phone_numbers.allocation import Criteria
from phone_numbers.carriers.base import (
    Carrier,
    CarrierError,
    CarrierOrderStatus,
    CarrierRejected,
)
from phone_numbers.carriers.measured import MeasuredCarrier

BACKENDS = {
    "simulated": "phone_numbers.carriers.simulated.SimulatedCarrier",
    "telnyx": "phone_numbers.carriers.telnyx.TelnyxCarrier",
}

__all__ = [
    "Carrier",
    "CarrierError",
    "CarrierOrderStatus",
    "CarrierRejected",
    "carrier_can_supply",
    "get_carrier",
]


def get_carrier() -> Carrier:
    """The configured adapter. A dotted path to a Carrier class is accepted too."""
    name = settings.CARRIER_BACKEND
    path = BACKENDS.get(name, name)
    try:
        carrier_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"CARRIER_BACKEND {name!r} is not a known carrier") from exc
    # Measured at the interface, so every adapter's calls are counted the same way.
    return MeasuredCarrier(carrier_class(), name=name)


def _coverage_key(criteria: Criteria) -> str:
    return ":".join(
        [
            "carrier-coverage",
            settings.CARRIER_BACKEND,
            criteria.number_type,
            criteria.area_code or "-",
        ]
    )


def carrier_can_supply(*, criteria: Criteria, quantity: int, fresh: bool = False) -> bool:
    """Whether the carrier can supply `quantity` numbers of this type and area code now.

    The carrier's answer (its count, not the yes/no) is kept in Django's cache, shared by every
    process, for CARRIER_COVERAGE_CACHE_SECONDS per (type, area code), so a burst of backorders
    asks the carrier once; `fresh` asks the carrier whatever is cached (a top-up placement
    follows a fresh check) and caches its answer. Raises CarrierError when the carrier cannot
    be asked (nothing is cached then): the caller fails closed."""
    key = _coverage_key(criteria)
    cached = None if fresh else cache.get(key)
    if cached is None:
        count = get_carrier().coverage(criteria=criteria)
        cached = {"count": count}
        if settings.CARRIER_COVERAGE_CACHE_SECONDS > 0:
            cache.set(key, cached, settings.CARRIER_COVERAGE_CACHE_SECONDS)
    return cached["count"] is None or cached["count"] >= quantity
