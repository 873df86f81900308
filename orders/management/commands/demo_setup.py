"""First-run demo for `make run`: a demo organization, a key and some inventory, created once;
then, every run, the key and a ready `curl`. The key is kept in var/demo-api-key (local
development only) because the database holds only its hash."""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import scopes
from accounts.models import Organization
from accounts.services import api_key_create, organization_create

DEMO_ORGANIZATION = "Demo Organization"
DEMO_CREDIT_CENTS = 1_000_000
KEY_FILE = Path(settings.VAR_DIR) / "demo-api-key"


class Command(BaseCommand):
    help = "Create the demo organization, key and inventory on first run; print how to call."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, port, **options):
        organization = Organization.objects.filter(name=DEMO_ORGANIZATION).first()
        if organization is None or not KEY_FILE.exists():
            with transaction.atomic():
                if organization is None:
                    organization = organization_create(
                        name=DEMO_ORGANIZATION, credit_cents=DEMO_CREDIT_CENTS
                    )
                # A customer's key: the staff-grade platform scope is for staff only.
                _, secret = api_key_create(
                    organization=organization, scopes=scopes.CUSTOMER_DEFAULT, label="demo"
                )
            KEY_FILE.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Created 0600 from the start: never readable by others, not even for a moment.
            KEY_FILE.unlink(missing_ok=True)
            descriptor = os.open(KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as key_file:
                key_file.write(secret + "\n")
            self.seed_demo_inventory()
        secret = KEY_FILE.read_text().strip()
        base = f"http://127.0.0.1:{port}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Demo organization: {organization.name}",
                    f"Demo API key:      {secret}",
                    "",
                    "Try it:",
                    f'  curl -s -H "Authorization: Bearer {secret}" {base}/v1/billing/wallet',
                    "",
                ]
            )
        )
        self.print_bulk_demo(secret=secret, base=base)

    def seed_demo_inventory(self):
        """A few thousand local numbers in 415, 212 and 312 and some toll-free ones. 646 is
        left with none on purpose, so a bulk order there shows a backorder."""
        from phone_numbers.models import PhoneNumber
        from phone_numbers.services.inventory import inventory_seed

        if PhoneNumber.objects.exists():
            return  # the key file was lost, not the inventory: do not add more
        local = inventory_seed(
            count=3000, number_type="local", area_codes=["415", "212", "312"], random_seed=1
        )
        toll_free = inventory_seed(
            count=500, number_type="toll_free", area_codes=["800", "888"], random_seed=2
        )
        self.stdout.write(
            f"Demo inventory: {local} local numbers (415, 212, 312), {toll_free} toll-free "
            "(800, 888); none in 646."
        )

    def print_bulk_demo(self, *, secret, base):
        """The bulk-order demo (docs/bulk-orders.md): one order filled at once from the demo
        inventory, one backordered from the simulated carrier (646 has no demo inventory) that
        completes a few seconds later, and how to poll it. .ci/new-user-checks runs these."""
        auth = f'-H "Authorization: Bearer {secret}"'
        json = '-H "Content-Type: application/json"'
        url = f"{base}/v1/phone-numbers/bulk"
        immediate = '{"quantity": 2, "area_code": "415", "label": "demo-now"}'
        backorder = (
            '{"quantity": 3, "area_code": "646", "label": "demo-backorder", '
            '"inbound_url": "https://customer.example/inbound"}'
        )
        self.stdout.write(
            "\n".join(
                [
                    "Bulk order, filled at once from inventory (200):",
                    f"  curl -s -X POST {auth} {json} {url} -d '{immediate}'",
                    "Bulk order that backorders from the carrier (202 with an order_id):",
                    f"  curl -s -X POST {auth} {json} {url} -d '{backorder}'",
                    "Poll it until status is complete (about "
                    f"{settings.SIMULATED_CARRIER_DELAY_SECONDS:g} s), ORDER_ID from the 202:",
                    f"  curl -s {auth} {url}/ORDER_ID",
                    "Your backorders, newest first:",
                    f"  curl -s {auth} {url}",
                    "",
                ]
            )
        )
