from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.two_factor import staff_two_factor_reset


class Command(BaseCommand):
    help = (
        "Remove a staff user's two-factor devices (a lost phone): at their next login they enrol "
        "a new one. Audited as the operator named by --by, with --reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="the staff user who lost their device")
        parser.add_argument("--by", required=True, help="your own staff username (audit log)")
        parser.add_argument("--reason", required=True, help="why (kept in the audit log)")

    def handle(self, *args, username, by, reason, **options):
        users = get_user_model().objects
        user = users.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        operator = users.filter(username=by, is_staff=True, is_active=True).first()
        if operator is None:
            raise CommandError(f"--by {by!r} is not an active staff user")
        reason = reason.strip()
        if not reason or len(reason) > 500:
            raise CommandError("--reason must be 1 to 500 characters")
        removed = staff_two_factor_reset(operator=operator, user=user, reason=reason)
        self.stdout.write(
            f"removed {removed} two-factor device(s) of {username!r}; they enrol a new one at "
            "their next login"
        )
