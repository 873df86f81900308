"""Data helpers shared by the tests: organizations and their keys, inventory, orders, webhook
endpoints, and the integrity checks the money and concurrency tests end with.

Everything here goes through the services the API uses (organization_create, api_key_create,
inventory_add, webhook_endpoint_create, allocation), except where a test needs a row in a state
only fulfilment reaches (`make_numbers` bulk-creates stock, `make_terminal_order` a finished
order). Fixtures built on these live in the conftests (tests/conftest.py: `alice`, `bob`, ...).

- `Api`, `make_org`, `make_api`, `api_key_for`: an organization, and a client (or a bare
  secret) speaking as one of its keys.
- `make_numbers`, `add_numbers`, `give`, `number`, `owner_of`: inventory and owned numbers.
- `processing_order`: a backorder waiting for the carrier, its cost held.
- `make_endpoint`, `make_terminal_order`: webhook endpoints and finished bulk orders.
- `ledger`, `assert_ledger_balances`, `assert_integrity`: the ledger, and what must hold after
  any race or fault (no number twice, every order charged once, balances add up).
"""

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import scopes
from accounts.models import CreditTransaction, Organization
from accounts.services import api_key_create, organization_create
from orders.models import BulkOrder
from phone_numbers.allocation import Routing, claim_listed_numbers
from phone_numbers.models import PhoneNumber
from phone_numbers.services.inventory import inventory_add, inventory_row
from webhooks.models import BULK_ORDER_COMPLETED
from webhooks.services import webhook_endpoint_create


# --- organizations and keys ------------------------------------------------------------------
class Api:
    """A client that speaks as one API key: `alice.post(path, body)` -> DRF Response."""

    def __init__(self, secret=None):
        self.client = APIClient()
        self.secret = secret
        if secret:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.client.post(path, body, format="json", **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.client.patch(path, body, format="json", **kwargs)

    def delete(self, path, **kwargs):
        return self.client.delete(path, **kwargs)


def make_org(name, credit_cents=10_000):
    return organization_create(name=name, credit_cents=credit_cents)


def make_api(org, key_scopes=scopes.ALL):
    _, secret = api_key_create(organization=org, scopes=key_scopes, label="test")
    return Api(secret)


def api_key_for(org) -> str:
    """The secret of a new key of `org` with every scope (for clients other than Api)."""
    return api_key_create(organization=org, scopes=scopes.ALL, label="faults")[1]


# --- inventory and owned numbers -------------------------------------------------------------
def make_numbers(count, *, area_code="415", number_type="local", exchange="555", start=7001):
    """`count` available numbers +1<area><exchange><start..>, e.g. +14155557001."""
    return PhoneNumber.objects.bulk_create(
        [
            PhoneNumber(
                number=f"+1{area_code}{exchange}{start + i:04d}",
                number_type=number_type,
                area_code=area_code,
            )
            for i in range(count)
        ]
    )


def add_numbers(*numbers: str) -> list[str]:
    """Put these numbers in inventory as available (through inventory loading)."""
    inventory_add(inventory_row(number) for number in numbers)
    return list(numbers)


def owner_of(number: str):
    return PhoneNumber.objects.get(number=number).organization_id


def give(org, *numbers: str, label=None, inbound_url=None) -> dict[str, str]:
    """Put these numbers in inventory and assign them to the organization through allocation
    (no charge: for tests about owning numbers, not buying them). Returns number -> id."""
    add_numbers(*numbers)
    with transaction.atomic():
        claim_listed_numbers(
            organization_id=org.id,
            numbers=list(numbers),
            routing=Routing(inbound_url=inbound_url, label=label),
        )
    return {n.number: str(n.pk) for n in PhoneNumber.objects.filter(number__in=numbers)}


def number(number_id) -> PhoneNumber:
    return PhoneNumber.objects.get(pk=number_id)


def processing_order(organization, *, label="", quantity=3, unit_price_cents=100):
    """A backordered bulk order waiting for the carrier, its cost held, as bulk_order_place
    leaves it (without enqueuing fulfilment)."""
    from django.db import transaction

    from accounts.services import credit_hold, lock_organization
    from orders.models import BulkOrder

    with transaction.atomic():
        locked = lock_organization(organization.pk)
        order = BulkOrder.objects.create(
            organization=locked,
            quantity=quantity,
            number_type="local",
            area_code="415",
            label=label,
            unit_price_cents=unit_price_cents,
            is_backorder=True,
            status=BulkOrder.Status.PROCESSING,
            request_id="01JDEMOREQUESTID0000000000",
        )
        credit_hold(
            organization=locked,
            cents=quantity * unit_price_cents,
            order_id=order.id,
            note=f"held for {quantity} local numbers, bulk order {order.id}",
        )
    return order


# --- webhooks and finished orders ------------------------------------------------------------
def make_endpoint(org, url, events=(BULK_ORDER_COMPLETED,), description=""):
    return webhook_endpoint_create(
        organization=org, url=url, events=list(events), description=description
    )


def make_terminal_order(org, status=BulkOrder.Status.COMPLETE, quantity=2, is_backorder=True):
    """A bulk order already in a terminal state, as fulfilment leaves it."""
    failed = {"complete": 0, "partial": 1, "failed": quantity}[status]
    return BulkOrder.objects.create(
        organization=org,
        quantity=quantity,
        number_type="local",
        unit_price_cents=100,
        is_backorder=is_backorder,
        status=status,
        assigned_count=quantity - failed,
        failed_count=failed,
        completed_at=timezone.now(),
    )


# --- the ledger and integrity ----------------------------------------------------------------
def ledger(org):
    """[(kind, amount_cents, held_change_cents)] of an organization, oldest first."""
    return list(
        CreditTransaction.objects.filter(organization=org)
        .order_by("created_at", "id")
        .values_list("kind", "amount_cents", "held_change_cents")
    )


def assert_ledger_balances(org):
    org.refresh_from_db()
    entries = ledger(org)
    assert org.balance_cents == sum(amount for _, amount, _ in entries)
    assert org.held_cents == sum(held for _, _, held in entries)


def assert_integrity():
    """After a fault: no number assigned twice or beyond its order, every organization's ledger
    adds up to its balance and held credit, every order charged once for what it got, and no
    order left processing."""
    for order in BulkOrder.objects.all():
        assert order.status != "processing", f"order {order.id} is stuck in processing"
        got = PhoneNumber.objects.filter(order_id=order.id).count()
        assert got == order.assigned_count <= order.quantity, order.id
        charged = -sum(
            CreditTransaction.objects.filter(order_id=order.id, kind="charge").values_list(
                "amount_cents", flat=True
            )
        )
        assert charged == order.assigned_count * order.unit_price_cents, order.id
    assert not PhoneNumber.objects.values("number").annotate(n=Count("id")).filter(n__gt=1)
    for org in Organization.objects.all():
        assert_ledger_balances(org)
