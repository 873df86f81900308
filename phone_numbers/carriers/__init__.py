"""Upstream supply of phone numbers (API.md §6). Everything that talks to a carrier goes
through `get_carrier()`, which returns the adapter named by settings.CARRIER_BACKEND. A real
carrier is one more class implementing `carriers.base.Carrier`, registered in BACKENDS."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from phone_numbers.carriers.base import (
    Carrier,
    CarrierError,
    CarrierOrderStatus,
)
from phone_numbers.carriers.measured import MeasuredCarrier

BACKENDS = {
    "simulated": "phone_numbers.carriers.simulated.SimulatedCarrier",
    # "acme": "phone_numbers.carriers.acme.AcmeCarrier",  # a real carrier goes here
}

__all__ = ["Carrier", "CarrierError", "CarrierOrderStatus", "get_carrier"]


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
