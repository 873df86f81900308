"""Every write to bulk orders (API.md §2, POST /v1/phone-numbers/bulk and its fulfilment).

How an order moves:

    bulk_order_place  --(inventory has them all)-->  complete (charged, order_id hidden)
           |
           +--(immediate_partial: inventory has k, carrier cannot supply the rest)-->
           |       partial at once (k charged, the rest failed, nothing held)
           |
           +--(carrier can supply the shortfall)--> processing: what was assigned at once
                  (immediate_partial) charged, the rest held, fulfilment enqueued
                                          |
    bulk_order_fulfil: claim from inventory, order the rest from the carrier through
                       placements (CarrierOrder: intent committed, sent with no lock held,
                       looked up by reference before any resend, polled), assign what matches
                       of what they deliver, top up after a partial placement (at most
                       CARRIER_MAX_PLACEMENTS, never past fill_by) -> complete | partial |
                       failed, unused hold released
    bulk_order_cancel: the client, staff or the fill_by deadline end it early -> the
                       remainder fails, its hold released, pending carrier sub-orders
                       cancelled after commit (carrier_orders_cancel); a later carrier
                       delivery goes to inventory, never to the order
    carrier_webhook_apply: a carrier's signed push schedules fulfilment at once

Locks are always taken in the same order: organization, then the order row, then numbers (inside
phone_numbers.allocation). Every step of fulfilment runs with the organization and the order
locked and re-reads the order, so a task delivered twice, or run by two workers at once, sees
the other's work and never assigns or charges twice. The terminal transition is a
compare-and-set on status, so an order ends exactly once.

By concern: placing (listed and bulk orders), fulfilment (inventory claims and carrier
placements), control (cancel, the sweepers, a staff retry, a carrier's push), and lifecycle
(what they share, and finish, the one way an order ends). Callers import the writes from here.
"""

from orders.services.control import (
    bulk_order_cancel,
    bulk_order_retry,
    bulk_orders_end_overdue,
    bulk_orders_resume_stalled,
    carrier_webhook_apply,
)
from orders.services.fulfilment import bulk_order_fulfil, carrier_orders_cancel
from orders.services.lifecycle import criteria_of, routing_of
from orders.services.placing import bulk_order_place, listed_order_place

__all__ = [
    "bulk_order_cancel",
    "bulk_order_fulfil",
    "bulk_order_place",
    "bulk_order_retry",
    "bulk_orders_end_overdue",
    "bulk_orders_resume_stalled",
    "carrier_orders_cancel",
    "carrier_webhook_apply",
    "criteria_of",
    "listed_order_place",
    "routing_of",
]
