"""The one strict parser for every environment variable the settings read (API.md §6). A bad
value stops start-up with a message naming the variable: `env_bool("DEBUG")` refuses "maybe"
instead of reading it as False, `env_int("PORT")` refuses "eighty" and out-of-range numbers."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def read_env_file(path: Path) -> None:
    environ.Env.read_env(path)


def _bad(name, raw, expected):
    return ImproperlyConfigured(f"{name}={raw!r} is not valid: expected {expected}")


def env_str(name: str, *, default: str) -> str:
    return env.str(name, default=default)


def env_list(name: str, *, default: list) -> list:
    return env.list(name, default=default)


def env_int_list(name: str, *, default: list[int], min_value: int, max_value: int) -> list[int]:
    raw = env.str(name, default=None)
    if raw is None or raw.strip() == "":
        return list(default)
    try:
        values = [int(part.strip()) for part in raw.split(",")]
    except ValueError:
        raise _bad(name, raw, "comma-separated whole numbers") from None
    if not all(min_value <= value <= max_value for value in values):
        raise _bad(name, raw, f"comma-separated whole numbers from {min_value} to {max_value}")
    return values


def env_bool(name: str, *, default: bool) -> bool:
    raw = env.str(name, default=None)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise _bad(name, raw, "one of 1/0, true/false, yes/no, on/off")


def env_int(name: str, *, default: int, min_value: int | None = None, max_value=None) -> int:
    raw = env.str(name, default=None)
    if raw is None or raw.strip() == "":
        value = default
    else:
        try:
            value = int(raw.strip())
        except ValueError:
            raise _bad(name, raw, "a whole number") from None
    if (min_value is not None and value < min_value) or (
        max_value is not None and value > max_value
    ):
        bounds = " ".join(
            part
            for part in (
                f">= {min_value}" if min_value is not None else "",
                f"<= {max_value}" if max_value is not None else "",
            )
            if part
        )
        raise _bad(name, raw, f"a whole number {bounds}")
    return value


def env_float(name: str, *, default: float, min_value: float, max_value: float) -> float:
    raw = env.str(name, default=None)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise _bad(name, raw, "a number") from None
    if not min_value <= value <= max_value:  # also refuses nan
        raise _bad(name, raw, f"a number from {min_value} to {max_value}")
    return value


def env_choice(name: str, *, default: str, choices) -> str:
    value = env.str(name, default=default).strip()
    if value not in choices:
        raise _bad(name, value, "one of " + ", ".join(choices))
    return value


def env_area_codes(name: str) -> list[str]:
    """A comma-separated list of 3-digit area codes ([2-9]XX)."""
    import re

    codes = env.list(name, default=[])
    if not all(re.fullmatch(r"[2-9][0-9]{2}", code) for code in codes):
        raise _bad(name, ",".join(codes), "comma-separated 3-digit area codes")
    return codes


def env_database(name: str, *, default: str) -> dict:
    return _env_url(name, env.db, environ.Env.DB_SCHEMES, default=default)


def env_cache(name: str, *, default: str) -> dict:
    return _env_url(name, env.cache, environ.Env.CACHE_SCHEMES, default=default)


def _env_url(name: str, parse, schemes, *, default: str) -> dict:
    """DATABASE_URL / CACHE_URL through django-environ, with its KeyErrors and odd messages
    turned into one that names the variable."""
    raw = env.str(name, default=default)
    if raw.partition("://")[0] not in schemes:
        raise _bad(name, raw, "a URL with one of the schemes " + ", ".join(sorted(schemes)))
    try:
        return parse(name, default=default)
    except (ImproperlyConfigured, KeyError, ValueError) as exc:
        raise _bad(name, raw, f"a supported URL ({exc})") from None
