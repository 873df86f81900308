from django.core.management.base import BaseCommand, CommandError

from phone_numbers.inventory_csv import validate_inventory_csv
from phone_numbers.services.inventory import inventory_add


class Command(BaseCommand):
    help = (
        "Import available numbers from a CSV with header number,number_type. The whole file is "
        "validated first; if any line is bad, every bad line is reported and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, path, **options):
        try:
            with open(path, newline="", encoding="utf-8") as lines:
                result = validate_inventory_csv(lines)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text") from exc
        if not result.ok:
            for line, message in result.errors:
                self.stderr.write(f"{path}:{line}: {message}")
            raise CommandError(f"{len(result.errors)} bad line(s) in {path}; nothing was imported")
        added = inventory_add(result.rows)
        skipped = len(result.rows) - added
        self.stdout.write(
            f"Imported {added} number(s) from {path}; skipped {skipped} already in inventory."
        )
