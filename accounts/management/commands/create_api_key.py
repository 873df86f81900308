from django.core.management.base import BaseCommand, CommandError

from accounts import scopes as known_scopes
from accounts.models import Organization
from accounts.services import InvalidScopes, api_key_create


class Command(BaseCommand):
    help = "Create an API key; prints its secret alone on the last line (never shown again)."

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, help="organization name")
        parser.add_argument(
            "--scopes",
            default=",".join(known_scopes.CUSTOMER_DEFAULT),
            help=f"comma-separated, from: {', '.join(known_scopes.ALL)}",
        )
        parser.add_argument("--label", default="")

    def handle(self, *args, organization, scopes, label, **options):
        try:
            org = Organization.objects.get(name=organization)
        except Organization.DoesNotExist as exc:
            raise CommandError(f"no organization named {organization!r}") from exc
        scope_list = [scope.strip() for scope in scopes.split(",") if scope.strip()]
        if not scope_list:
            raise CommandError("--scopes must name at least one scope")
        if len(label) > 100:
            raise CommandError("--label must be at most 100 characters")
        try:
            key, secret = api_key_create(organization=org, scopes=scope_list, label=label)
        except InvalidScopes as exc:
            raise CommandError(f"{exc}; known scopes: {', '.join(known_scopes.ALL)}") from exc
        self.stdout.write(
            f"created API key {key.prefix}… for {org.name!r} with scopes {','.join(key.scopes)}"
        )
        self.stdout.write(secret)
