"""What orders announces to the apps above it, which orders must not import (README: Layout).

`bulk_order_finished` is sent inside the transaction that ends a bulk order, once per order
(after the compare-and-set that ends it), with `order` the ended BulkOrder. A receiver's writes
commit or roll back with the order's; an exception in a receiver aborts the transition. The
webhooks app listens (webhooks/receivers.py) to record the completion event."""

from django.dispatch import Signal

bulk_order_finished = Signal()
