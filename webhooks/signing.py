"""The X-AmCore-Signature header (API.md §5): `t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>\\n<raw body>" keyed with the endpoint's secret>`, with one `v1=` per valid secret (the
current one first; the previous one too for 24 hours after a rotation). docs/webhooks.md shows
customers the same recipe for checking it."""

import hashlib
import hmac
import secrets as random_secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + random_secrets.token_urlsafe(32)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"\n" + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secrets: list[str], timestamp: int, body: bytes) -> str:
    parts = [f"t={timestamp}"]
    parts += [f"v1={signature(secret=s, timestamp=timestamp, body=body)}" for s in secrets]
    return ",".join(parts)
