"""Secrets at rest: webhook signing secrets, and the secret in a stored Idempotency-Key answer
of a route that shows one (a webhook endpoint's or an API key's). Fernet (AES-128-CBC +
HMAC-SHA256, from `cryptography`) with the keys of WEBHOOK_SECRET_KEYS. MultiFernet encrypts
with the first key and decrypts with any, so keys rotate without downtime: put the new key
first, run `manage.py rotate_webhook_secret_keys` (re-encrypts every stored secret with it),
then drop the old key.

With no key configured (`make run`), one is derived from SECRET_KEY so a development setup
works without configuration; changing SECRET_KEY then makes the stored secrets unreadable,
which is why production sets WEBHOOK_SECRET_KEYS (README)."""

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "fernet:"


def development_key(secret_key: str) -> str:
    digest = hashlib.sha256(b"amcore webhook secrets\n" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


@lru_cache(maxsize=4)
def _multi(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "WEBHOOK_SECRET_KEYS must be Fernet keys (32 url-safe base64-encoded bytes each, "
            "e.g. from `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)"
        ) from exc


def _fernet() -> MultiFernet:
    keys = tuple(settings.WEBHOOK_SECRET_KEYS) or (development_key(settings.SECRET_KEY),)
    return _multi(keys)


def encrypt(plain: str) -> str:
    return PREFIX + _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """The plain secret. Raises InvalidToken when no configured key opens it."""
    if not token.startswith(PREFIX):
        raise InvalidToken()
    return _fernet().decrypt(token[len(PREFIX) :].encode()).decode()


def reencrypt(token: str) -> str:
    """The same secret encrypted with the first key (MultiFernet.rotate)."""
    if not token.startswith(PREFIX):
        raise InvalidToken()
    return PREFIX + _fernet().rotate(token[len(PREFIX) :].encode()).decode()


def _swap_secret(content: bytes, change) -> bytes:
    """The JSON answer with data.secret replaced by change(secret), byte for byte otherwise
    (the secret's JSON text is replaced in place, so a replay is the first answer exactly)."""
    try:
        secret = json.loads(content)["data"]["secret"]
    except (ValueError, KeyError, TypeError):
        return content  # an error answer: nothing secret in it
    changed = change(secret)
    if changed == secret:
        return content
    return content.replace(json.dumps(secret).encode(), json.dumps(changed).encode(), 1)


def encrypt_answer_secret(content: bytes) -> bytes:
    """A stored answer of a route that shows a secret, with the secret encrypted."""
    return _swap_secret(content, lambda s: s if s.startswith(PREFIX) else encrypt(s))


def decrypt_answer_secret(content: bytes) -> bytes:
    """The stored answer as it was sent, with its secret in plain text again."""
    return _swap_secret(content, lambda s: decrypt(s) if s.startswith(PREFIX) else s)


def reencrypt_answer_secret(content: bytes) -> bytes:
    """The stored answer with its secret encrypted with the first key (key rotation)."""
    return _swap_secret(content, lambda s: reencrypt(s) if s.startswith(PREFIX) else s)
