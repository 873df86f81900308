"""Every carrier call counted and timed (api.metrics: amcore_carrier_calls_total,
amcore_carrier_call_duration_seconds), whatever the adapter: `get_carrier()` hands out the
configured adapter inside this proxy, so a new adapter is measured without doing anything, and
so is a new operation added to the `Carrier` interface."""

from api import metrics
from phone_numbers.carriers.base import Carrier, CarrierError

# The public methods of the interface; anything else an adapter has is passed through unmeasured.
OPERATIONS = frozenset(
    name for name, value in vars(Carrier).items() if callable(value) and not name.startswith("_")
)


class MeasuredCarrier:
    def __init__(self, adapter: Carrier, *, name: str):
        self._adapter = adapter
        self._name = name

    @property
    def adapter(self) -> Carrier:
        return self._adapter

    def __getattr__(self, attribute):
        value = getattr(self._adapter, attribute)
        if attribute not in OPERATIONS or not callable(value):
            return value

        def measured(*args, **kwargs):
            with metrics.carrier_call(
                carrier=self._name, operation=attribute, expected_errors=(CarrierError,)
            ):
                return value(*args, **kwargs)

        return measured

    def __repr__(self):
        return f"MeasuredCarrier({self._adapter!r})"
