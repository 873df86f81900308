from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from accounts.models import Organization
from accounts.services import MAX_CREDIT_MOVE_CENTS, organization_create


class Command(BaseCommand):
    help = "Create an organization with opening credit; prints its id."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--credit-cents", type=int, default=500, help="opening credit (default 500)"
        )

    def handle(self, *args, name, credit_cents, **options):
        name = name.strip()
        if not name or len(name) > 200:
            raise CommandError("NAME must be 1 to 200 characters")
        if not 0 <= credit_cents <= MAX_CREDIT_MOVE_CENTS:
            raise CommandError(f"--credit-cents must be from 0 to {MAX_CREDIT_MOVE_CENTS}")
        if Organization.objects.filter(name=name).exists():
            raise CommandError(f"an organization named {name!r} already exists")
        try:
            organization = organization_create(name=name, credit_cents=credit_cents)
        except IntegrityError as exc:  # created by someone else since the check above
            raise CommandError(f"an organization named {name!r} already exists") from exc
        self.stdout.write(
            f"created organization {organization.name!r} with {credit_cents} cents of credit: "
            f"{organization.id}"
        )
