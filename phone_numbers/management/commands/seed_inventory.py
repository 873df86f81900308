import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from phone_numbers import numbering
from phone_numbers.services.inventory import InventoryFull, inventory_seed


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Add N new available numbers to inventory (existing numbers are skipped and replaced by "
        "fresh ones). Deterministic with --random-seed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=positive_int, required=True)
        parser.add_argument(
            "--number-type", choices=numbering.NUMBER_TYPES, default=numbering.LOCAL
        )
        parser.add_argument(
            "--area-code",
            nargs="+",
            action="extend",
            dest="area_codes",
            metavar="A",
            help="area codes (local) or toll-free prefixes; default: every valid one",
        )
        parser.add_argument("--random-seed", type=int, default=None)

    def handle(self, *args, count, number_type, area_codes, random_seed, **options):
        for area_code in area_codes or []:
            error = numbering.area_code_error(number_type, area_code)
            if error:
                raise CommandError(f"--area-code {area_code}: {error}")
        # A progress bar only for a person watching; logs and pipes get the summary alone.
        show_bar = sys.stdout.isatty() and self.stdout.isatty()
        with tqdm(total=count, unit="numbers", disable=not show_bar, file=sys.stdout) as bar:
            try:
                added = inventory_seed(
                    count=count,
                    number_type=number_type,
                    area_codes=area_codes,
                    random_seed=random_seed,
                    on_progress=bar.update,
                )
            except InventoryFull as exc:
                raise CommandError(str(exc)) from exc
        where = ", ".join(sorted(set(area_codes))) if area_codes else "all area codes"
        self.stdout.write(f"Added {added} available {number_type} numbers ({where}).")
