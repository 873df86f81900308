"""North American Numbering Plan rules, in one place: what a valid area code, toll-free prefix,
E.164 number and digit pattern are. Everything that validates a number calls these."""

import re

LOCAL = "local"
TOLL_FREE = "toll_free"
NUMBER_TYPES = (LOCAL, TOLL_FREE)
TOLL_FREE_PREFIXES = frozenset({"800", "833", "844", "855", "866", "877", "888"})

# re.ASCII: \d would otherwise accept full-width and other Unicode digits.
_AREA_CODE = re.compile(r"[2-9][0-9]{2}", re.ASCII)
_E164_NANP = re.compile(r"\+1([2-9][0-9]{2})([2-9][0-9]{2})([0-9]{4})", re.ASCII)
_PATTERN = re.compile(r"[0-9]{1,10}", re.ASCII)
_VANITY = re.compile(r"[0-9A-Za-z]{1,10}", re.ASCII)
_EXCHANGE = re.compile(r"[2-9][0-9]{2}", re.ASCII)

# The telephone keypad (ITU E.161): a vanity word is its digits.
_KEYPAD = {
    letter: digit
    for digit, letters in {
        "2": "ABC",
        "3": "DEF",
        "4": "GHI",
        "5": "JKL",
        "6": "MNO",
        "7": "PQRS",
        "8": "TUV",
        "9": "WXYZ",
    }.items()
    for letter in letters
}


def is_local_area_code(area_code: str) -> bool:
    """[2-9]XX, excluding N11 service codes and the toll-free prefixes."""
    return (
        isinstance(area_code, str)
        and bool(_AREA_CODE.fullmatch(area_code))
        and area_code[1:] != "11"
        and area_code not in TOLL_FREE_PREFIXES
    )


def is_toll_free_prefix(area_code: str) -> bool:
    return area_code in TOLL_FREE_PREFIXES


def area_code_error(number_type: str, area_code: str) -> str | None:
    """Why area_code does not suit number_type, or None when it does."""
    if number_type == TOLL_FREE:
        if not is_toll_free_prefix(area_code):
            return "must be a toll-free prefix: " + ", ".join(sorted(TOLL_FREE_PREFIXES))
        return None
    if not is_local_area_code(area_code):
        return "must be a local area code: 3 digits [2-9]XX, not N11 and not toll-free"
    return None


def parse_e164(number: str) -> tuple[str, str] | None:
    """(number_type, area_code) of a valid US E.164 number, or None."""
    if not isinstance(number, str):
        return None
    match = _E164_NANP.fullmatch(number)
    if not match:
        return None
    area_code = match.group(1)
    if is_toll_free_prefix(area_code):
        return TOLL_FREE, area_code
    if is_local_area_code(area_code):
        return LOCAL, area_code
    return None


def is_digit_pattern(pattern: str) -> bool:
    return isinstance(pattern, str) and bool(_PATTERN.fullmatch(pattern))


def keypad_digits(value: str) -> str | None:
    """The digits of 1-10 ASCII digits and letters (letters through the keypad, either case:
    "CALL" -> "2255"), or None when value is anything else."""
    if not isinstance(value, str) or not _VANITY.fullmatch(value):
        return None
    return "".join(_KEYPAD.get(ch.upper(), ch) for ch in value)


def is_exchange(exchange: str) -> bool:
    """The NXX after the area code: [2-9]XX."""
    return isinstance(exchange, str) and bool(_EXCHANGE.fullmatch(exchange))
