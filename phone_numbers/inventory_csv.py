"""Validation of an inventory CSV (header `number,number_type`), shared by `import_inventory`
and the admin CSV import. The whole file is checked before anything is imported."""

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field

from phone_numbers import numbering
from phone_numbers.services.inventory import InventoryRow

HEADER = ["number", "number_type"]


@dataclass
class CsvValidation:
    rows: list[InventoryRow] = field(default_factory=list)
    # (line number in the file, 1 = the header; message)
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_inventory_csv(lines: Iterable[str]) -> CsvValidation:
    """Check every line of an inventory CSV and return the rows, or every error by line:
    wrong or missing header, wrong number of columns, a number that is not a valid US E.164
    number, an unknown number type or one that does not match the number's prefix
    (toll-free prefixes are toll_free, everything else local), a number twice in the file.
    Blank lines are ignored. `lines` is any iterable of text lines (an open file, a list)."""
    result = CsvValidation()
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is not None and header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]  # a UTF-8 byte-order mark from spreadsheet exports
    if header is None or [cell.strip().lower() for cell in header] != HEADER:
        result.errors.append((1, f"header must be exactly: {','.join(HEADER)}"))
        return result
    first_seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            result.errors.append((line, f"expected 2 columns (number,number_type), got {len(row)}"))
            continue
        number, number_type = (cell.strip() for cell in row)
        parsed = numbering.parse_e164(number)
        if parsed is None:
            result.errors.append(
                (line, f"{number!r} is not a valid US E.164 number (+1 and 10 digits, [2-9]XX)")
            )
            continue
        if number_type not in numbering.NUMBER_TYPES:
            result.errors.append(
                (line, f"number_type {number_type!r} must be one of: local, toll_free")
            )
            continue
        if number_type != parsed[0]:
            result.errors.append(
                (line, f"{number} has a {parsed[0]} prefix but number_type is {number_type}")
            )
            continue
        if number in first_seen:
            result.errors.append((line, f"{number} is already on line {first_seen[number]}"))
            continue
        first_seen[number] = line
        result.rows.append(InventoryRow(number, parsed[0], parsed[1]))
    return result
