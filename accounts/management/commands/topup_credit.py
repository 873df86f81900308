from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from accounts.services import MAX_CREDIT_MOVE_CENTS, credit_topup


class Command(BaseCommand):
    help = "Add credit to an organization (a ledger entry)."

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, help="organization name")
        parser.add_argument("--cents", required=True, type=int)
        parser.add_argument("--note", default="top-up by operator")

    def handle(self, *args, organization, cents, note, **options):
        if not 0 < cents <= MAX_CREDIT_MOVE_CENTS:
            raise CommandError(f"--cents must be a whole number from 1 to {MAX_CREDIT_MOVE_CENTS}")
        if len(note) > 500:
            raise CommandError("--note must be at most 500 characters")
        try:
            org = Organization.objects.get(name=organization)
        except Organization.DoesNotExist as exc:
            raise CommandError(f"no organization named {organization!r}") from exc
        entry = credit_topup(organization_id=org.id, cents=cents, note=note)
        self.stdout.write(
            f"topped up {org.name!r} by {cents} cents; balance is now "
            f"{entry.balance_after_cents} cents"
        )
