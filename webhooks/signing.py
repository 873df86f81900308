"""The X-AmCore-Signature header (API.md §5): `t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>\\n<raw body>" keyed with the endpoint's secret>`. docs/webhooks.md shows customers the
same recipe for checking it."""

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"\n" + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret=secret, timestamp=timestamp, body=body)}"
