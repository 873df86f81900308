"""The interface every carrier adapter implements.

A carrier order is asynchronous, like a real carrier's: `place_order` returns a reference at
once, and `check_order` is called later (by the fulfilment task, with a countdown, never by
sleeping in a worker) until the carrier reports the order delivered. Adapters hold no state of
their own between calls: whatever they need to answer `check_order` must live at the carrier
(a real carrier) or be derivable from the reference (the simulated one), because the next check
may run in another worker process.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from phone_numbers.allocation import Criteria


class CarrierError(Exception):
    """The carrier could not be reached or answered with an error. Transient: the fulfilment
    task retries with exponential backoff and jitter."""


@dataclass(frozen=True)
class CarrierOrderStatus:
    """What the carrier says about an order.

    - pending: not finished; ask again after `retry_after_seconds`.
    - delivered: finished; `numbers` are the E.164 numbers provisioned for us (they honour the
      number type and area code asked for, not a digit pattern) and `failed_count` how many of
      the ordered quantity the carrier could not provision. len(numbers) + failed_count equals
      the quantity ordered.
    """

    pending: bool
    numbers: tuple[str, ...] = field(default=())
    failed_count: int = 0
    retry_after_seconds: float = 1.0

    @classmethod
    def still_pending(cls, retry_after_seconds: float) -> "CarrierOrderStatus":
        return cls(pending=True, retry_after_seconds=retry_after_seconds)


class Carrier(ABC):
    @abstractmethod
    def can_supply(self, *, criteria: Criteria, quantity: int) -> bool:
        """Whether the carrier can supply `quantity` numbers of this type and area code (the
        capacity check of POST /v1/phone-numbers/bulk, step 4). Must be quick: it runs inside
        the request."""

    @abstractmethod
    def place_order(self, *, criteria: Criteria, quantity: int, client_ref: str) -> str:
        """Order `quantity` numbers of criteria.number_type / criteria.area_code and return the
        carrier's reference for the order. `client_ref` (our bulk order id) is sent to carriers
        that deduplicate on it, so a retried placement does not order twice. Raises
        CarrierError on a transient failure."""

    @abstractmethod
    def check_order(self, ref: str) -> CarrierOrderStatus:
        """The state of a placed order. Calling it again after `delivered` returns the same
        numbers. Raises CarrierError on a transient failure."""
