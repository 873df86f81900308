"""The interface every carrier adapter implements (docs/carriers.md).

A carrier order is asynchronous, like a real carrier's: `place_order` returns the carrier's id
for the order at once, and `check_order` is called later (by the fulfilment task, with a
countdown, never by sleeping in a worker) until the carrier reports the order finished.
Adapters hold no state of their own between calls: whatever they need to answer must live at
the carrier (a real carrier) or be derivable from the id (the simulated one), because the next
call may run in another worker process.

Every order carries our `customer_reference` ("<bulk order id>:<n>"). The caller records it
before placing, and when it does not know whether an earlier placement reached the carrier (a
worker died between the call and recording the answer) it asks `find_order` first, so a number
is never bought twice.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from phone_numbers.allocation import Criteria


class CarrierError(Exception):
    """The carrier could not be reached, timed out, was rate limited or failed on its side.
    Transient: retried with backoff and jitter, no sooner than `retry_after_seconds` when the
    carrier said when to come back (a 429's reset)."""

    def __init__(self, message: str, *, retry_after_seconds: float | None = None):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class CarrierRejected(Exception):
    """The carrier refused the request (a 4xx other than 429): asking again the same way will
    not help. `detail` is the carrier's own explanation, shown to staff."""

    def __init__(self, detail: str, *, status_code: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code


@dataclass(frozen=True)
class CarrierOrderStatus:
    """What the carrier says about an order.

    - pending: not finished; ask again after `retry_after_seconds`.
    - pending with retry_after_seconds None: the carrier gave no hint; the caller backs off.
    - finished (pending=False): `numbers` are the E.164 numbers provisioned for us and
      `failed_count` how many of the ordered quantity the carrier could not provision. The
      numbers are what the carrier says it delivered: the caller re-checks each against what
      was asked before assigning it.
    - `sub_order_ids`: the carrier's ids for parts of the order that can be cancelled on their
      own (Telnyx sub number orders); empty when the carrier has no such notion.
    """

    pending: bool
    numbers: tuple[str, ...] = field(default=())
    failed_count: int = 0
    retry_after_seconds: float | None = None
    sub_order_ids: tuple[str, ...] = field(default=())

    @classmethod
    def still_pending(cls, retry_after_seconds: float | None, **kwargs) -> "CarrierOrderStatus":
        return cls(pending=True, retry_after_seconds=retry_after_seconds, **kwargs)


class Carrier(ABC):
    #: Which Criteria fields this carrier is asked to honour (beyond number_type, which every
    #: carrier honours). A delivered number is still checked against the order's whole
    #: criteria before it is assigned (phone_numbers.services.provisioning).
    supported_criteria: tuple[str, ...] = ("area_code",)

    def carrier_criteria(self, criteria: Criteria) -> Criteria:
        """`criteria` reduced to what this carrier is asked for."""
        kept = {name: getattr(criteria, name) for name in self.supported_criteria}
        return Criteria(number_type=criteria.number_type, **kept)

    @abstractmethod
    def coverage(self, *, criteria: Criteria) -> int | None:
        """How many numbers of this type and area code the carrier can supply now, or None for
        "no known limit". The capacity check of POST /v1/phone-numbers/bulk, step 4 (cached by
        phone_numbers.carriers.carrier_can_supply). Raises CarrierError."""

    @abstractmethod
    def place_order(self, *, criteria: Criteria, quantity: int, customer_reference: str) -> str:
        """Order `quantity` numbers matching `self.carrier_criteria(criteria)`; returns the
        carrier's id for the order. Raises CarrierError (transient: the order may or may not
        exist at the carrier, so look it up before placing again) or CarrierRejected."""

    @abstractmethod
    def find_order(self, *, customer_reference: str) -> str | None:
        """The carrier's id of the order placed with this reference, or None if there is none.
        Raises CarrierError."""

    @abstractmethod
    def check_order(self, order_id: str) -> CarrierOrderStatus:
        """The state of a placed order. Calling it again after it finished returns the same
        numbers. Raises CarrierError or CarrierRejected."""

    @abstractmethod
    def cancel_order(self, order_id: str) -> int:
        """Cancel what is still pending of the order at the carrier, where it allows it;
        returns how many parts were cancelled. Parts already delivered stay delivered. Raises
        CarrierError."""

    @abstractmethod
    def release_number(self, number: str) -> bool:
        """Give the number back to the carrier (delete it from our account). False if the
        carrier does not hold it for us. Raises CarrierError or CarrierRejected."""
