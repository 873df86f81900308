import json

from django.conf import settings
from rest_framework.parsers import BaseParser

from api.errors import InvalidInput, PayloadTooLarge


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONParser(BaseParser):
    """JSON objects only (API.md §1). Reads at most API_MAX_BODY_BYTES + 1 bytes, so a body
    that lies about its length is still refused without being read whole; refuses NaN and
    Infinity, which Python's json accepts by default."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge()
        if not raw.strip():
            raise InvalidInput("request body must be a JSON object")
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise InvalidInput("request body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise InvalidInput("request body must be a JSON object")
        return data
