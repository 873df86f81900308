"""The default carrier: supplies numbers of any valid type and area code after
SIMULATED_CARRIER_DELAY_SECONDS, each number failing to provision with probability
SIMULATED_CARRIER_FAILURE_RATE, and nothing for SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES.

It keeps no state: the order id encodes everything `check_order` needs (when the order was
placed, the delay and failure rate in force then, the criteria, the quantity and a seed derived
from our customer_reference), so any worker process can check an order, and checking twice gives
the same numbers. Having no state, it never finds an earlier order by reference (`find_order`
is None); placing the same reference again yields the same numbers, so nothing is "bought"
twice. Cancelling and releasing are accepted and do nothing.
"""

import hashlib
import random
import time

from django.conf import settings

from phone_numbers import numbering
from phone_numbers.allocation import Criteria
from phone_numbers.carriers.base import Carrier, CarrierError, CarrierOrderStatus

REF_PREFIX = "sim"
MIN_RECHECK_SECONDS = 0.2


def _unavailable_area_codes() -> set[str]:
    return {code.strip() for code in settings.SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES if code}


class SimulatedCarrier(Carrier):
    supported_criteria = ("area_code",)

    def coverage(self, *, criteria: Criteria) -> int | None:
        return 0 if criteria.area_code in _unavailable_area_codes() else None

    def find_order(self, *, customer_reference: str) -> str | None:
        return None

    def cancel_order(self, order_id: str) -> int:
        return 0

    def release_number(self, number: str) -> bool:
        return True

    def place_order(self, *, criteria: Criteria, quantity: int, customer_reference: str) -> str:
        if self.coverage(criteria=criteria) == 0:
            # Checked at request time too; the setting may have changed since.
            ref_fields = [criteria.number_type, criteria.area_code or "-", str(quantity)]
            return ":".join([REF_PREFIX, "none", *ref_fields])
        fields = [
            REF_PREFIX,
            str(int(time.time() * 1000)),  # placed at, in ms (rounded down)
            f"{float(settings.SIMULATED_CARRIER_DELAY_SECONDS):g}",
            f"{float(settings.SIMULATED_CARRIER_FAILURE_RATE):g}",
            criteria.number_type,
            criteria.area_code or "-",
            str(quantity),
            hashlib.sha256(customer_reference.encode()).hexdigest()[:16],
        ]
        return ":".join(fields)

    def check_order(self, order_id: str) -> CarrierOrderStatus:
        ref = order_id
        parts = ref.split(":")
        if len(parts) == 5 and parts[:2] == [REF_PREFIX, "none"]:
            return CarrierOrderStatus(pending=False, failed_count=int(parts[4]))
        try:
            prefix, placed_at, delay, failure_rate, number_type, area_code, quantity, seed = parts
            placed_at, delay, failure_rate = (
                int(placed_at) / 1000,
                float(delay),
                float(failure_rate),
            )
            quantity = int(quantity)
        except ValueError as exc:
            raise CarrierError(f"not a simulated carrier reference: {ref!r}") from exc
        if prefix != REF_PREFIX:
            raise CarrierError(f"not a simulated carrier reference: {ref!r}")
        remaining = placed_at + delay - time.time()
        if remaining > 0:
            return CarrierOrderStatus.still_pending(max(remaining, MIN_RECHECK_SECONDS))
        return self._delivery(
            seed=seed,
            number_type=number_type,
            area_code=None if area_code == "-" else area_code,
            quantity=quantity,
            failure_rate=failure_rate,
        )

    @staticmethod
    def _delivery(*, seed, number_type, area_code, quantity, failure_rate) -> CarrierOrderStatus:
        rng = random.Random(seed)
        if area_code:
            area_codes = [area_code]
        elif number_type == numbering.TOLL_FREE:
            area_codes = sorted(numbering.TOLL_FREE_PREFIXES)
        else:
            area_codes = ["213", "305", "415", "512", "617", "702", "818", "919"]
        numbers: set[str] = set()
        failed = 0
        for _ in range(quantity):
            if rng.random() < failure_rate:
                failed += 1
                continue
            while True:
                # Exchange [2-9]XX, avoiding N11 and 555 (reserved for fiction and demos).
                exchange = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
                if exchange[1:] == "11" or exchange == "555":
                    continue
                number = f"+1{rng.choice(area_codes)}{exchange}{rng.randint(0, 9999):04d}"
                if number not in numbers:
                    numbers.add(number)
                    break
        return CarrierOrderStatus(
            pending=False, numbers=tuple(sorted(numbers)), failed_count=failed
        )
