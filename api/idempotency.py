"""Stripe-style Idempotency-Key for POST routes that create something (API.md §4).

How a key moves:

1. The request is authenticated, its scope checked, its body validated. Only then is the key
   claimed: `INSERT ... ON CONFLICT DO NOTHING` on (organization, key) — never select-then-insert.
2. In one transaction the request locks the key's row (`SELECT ... FOR UPDATE NOWAIT`), runs the
   route's work, and stores the final status, headers and body on the row. The order's writes
   and the stored response commit together or not at all.
3. Another request with the same key:
   - row locked by a running request: 409 IDEMPOTENCY_KEY_IN_USE (or 422 if its body differs);
   - row completed, same fingerprint: the stored response, byte for byte, with
     `Idempotent-Replayed: true`; different fingerprint: 422 IDEMPOTENCY_KEY_REUSED;
   - row expired (older than IDEMPOTENCY_KEY_TTL_HOURS): the key is free; the row is reused.

Recovery from a crash: a request that dies mid-flight (process killed, connection lost) never
commits, so its work is rolled back and PostgreSQL releases its row lock with the connection.
The row is left `in_progress` and unlocked, which no running request could leave: the next
request with the key takes it over at once and runs. A 5xx answer deletes the row, so the key is
released for the retry the 5xx invites.

On SQLite (the embedded default) there are no row locks: IMMEDIATE transactions serialize
writers, so a concurrent retry waits for the first request and then gets the replay.
"""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from api import crypto
from api.errors import (
    ApiError,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    ValidationFailed,
    error_response,
)
from api.models import IdempotencyKey
from api.request_id import current_request_id

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("Location",)
MAX_KEY_LENGTH = 255


def idempotency_key_from(request) -> str | None:
    """The request's Idempotency-Key, or None when absent; 422 when it is not 1-255 printable
    ASCII characters."""
    raw = request.META.get("HTTP_IDEMPOTENCY_KEY")
    if raw is None:
        return None
    if not (1 <= len(raw) <= MAX_KEY_LENGTH and all(" " <= ch <= "~" for ch in raw)):
        raise ValidationFailed({HEADER: "must be 1 to 255 printable ASCII characters"})
    return raw


def request_fingerprint(request) -> str:
    """Route and body, compared after parsing: whitespace and key order do not matter."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    material = f"{request.method}\n{request.path}\n{body}"
    return hashlib.sha256(material.encode()).hexdigest()


def _render(response) -> HttpResponse:
    """Render a DRF Response to the exact bytes we store and send (first answer and replays
    alike)."""
    content = JSONRenderer().render(response.data)
    rendered = HttpResponse(content, status=response.status_code, content_type="application/json")
    for name, value in response.items():
        if name.lower() != "content-type":
            rendered[name] = value
    return rendered


def _replay(record: IdempotencyKey, replayed_body) -> HttpResponse:
    response = HttpResponse(
        replayed_body(bytes(record.response_body)),
        status=record.response_status,
        content_type="application/json",
    )
    for name, value in record.response_headers.items():
        response[name] = value
    response[REPLAY_HEADER] = "true"
    return response


def _lock(organization, key) -> IdempotencyKey | None:
    """Lock the key's row without waiting; None if another request holds it."""
    try:
        with transaction.atomic():  # a savepoint: a refused lock must not abort the outer block
            return IdempotencyKey.objects.select_for_update(nowait=True).get(
                organization_id=organization.id, key=key
            )
    except (DatabaseError, IdempotencyKey.DoesNotExist):
        # Locked by a running request, or deleted by one that just failed with a 5xx: either
        # way the client should retry in a moment.
        return None


def _same(content: bytes) -> bytes:
    return content


def run_idempotently(
    request, *, key: str, produce, admit=None, stored_body=_same, replayed_body=_same
) -> HttpResponse:
    """Run `produce()` (the route's work, returning a DRF Response or raising an ApiError) at
    most once per (organization, key) within the TTL, and answer every request with that key
    as API.md §4 says. `admit()`, if given, runs only when the work is about to run (not for a
    replayed answer): a limit on the work (the webhook replay limit) counts it there, and the
    ApiError it raises is answered without being stored, so a retry may be admitted later.
    `stored_body` turns the answer into what is stored (e.g. a secret in it encrypted) and
    `replayed_body` turns that back into the answer."""
    organization = request.organization
    fingerprint = request_fingerprint(request)
    now = timezone.now()
    ttl = timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    IdempotencyKey.objects.bulk_create(
        [
            IdempotencyKey(
                organization_id=organization.id,
                key=key,
                fingerprint=fingerprint,
                method=request.method,
                path=request.path[:200],
                request_id=current_request_id() or "",
                created_at=now,
                expires_at=now + ttl,
            )
        ],
        ignore_conflicts=True,
    )
    try:
        with transaction.atomic():
            record = _lock(organization, key)
            if record is None:
                current = IdempotencyKey.objects.filter(
                    organization_id=organization.id, key=key
                ).first()
                if current and current.expires_at > now and current.fingerprint != fingerprint:
                    raise IdempotencyKeyReused()
                raise IdempotencyKeyInUse()
            if record.expires_at <= now:
                _restart(record, request, fingerprint, now, ttl)
            elif record.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            elif record.state == IdempotencyKey.State.COMPLETED:
                return _replay(record, replayed_body)
            if admit is not None:
                try:
                    admit()
                except ApiError as refused:
                    raise _ReleaseKey(_render(error_response(refused))) from refused

            try:
                with transaction.atomic():  # the route's work is undone if it fails
                    response = _render(produce())
            except ApiError as error:
                response = _render(error_response(error))
            if response.status_code >= 500:
                raise _ReleaseKey(response)
            record.state = IdempotencyKey.State.COMPLETED
            record.response_status = response.status_code
            record.response_body = stored_body(response.content)
            record.response_headers = {
                name: response[name] for name in STORED_HEADERS if response.has_header(name)
            }
            record.save(
                update_fields=["state", "response_status", "response_body", "response_headers"]
            )
            return response
    except _ReleaseKey as release:
        _release(organization, key)
        return release.response
    except Exception:
        # Unexpected: nothing of the work committed; free the key so the client can retry.
        _release(organization, key)
        raise


class _ReleaseKey(Exception):
    def __init__(self, response):
        super().__init__("answered without storing: release the idempotency key")
        self.response = response


def _restart(record, request, fingerprint, now, ttl):
    """An expired key is free again: the row starts over for this request."""
    record.fingerprint = fingerprint
    record.method = request.method
    record.path = request.path[:200]
    record.state = IdempotencyKey.State.IN_PROGRESS
    record.response_status = None
    record.response_body = None
    record.response_headers = {}
    record.request_id = current_request_id() or ""
    record.created_at = now
    record.expires_at = now + ttl
    record.save()


def _release(organization, key):
    IdempotencyKey.objects.filter(
        organization_id=organization.id, key=key, state=IdempotencyKey.State.IN_PROGRESS
    ).delete()


def purge_expired_keys(*, batch_size: int = 5000) -> int:
    """Delete expired keys in batches (a short transaction each); returns how many."""
    purged = 0
    while True:
        ids = list(
            IdempotencyKey.objects.filter(expires_at__lte=timezone.now()).values_list(
                "pk", flat=True
            )[:batch_size]
        )
        if not ids:
            return purged
        purged += IdempotencyKey.objects.filter(
            pk__in=ids, expires_at__lte=timezone.now()
        ).delete()[0]


class IdempotentActionsMixin:
    """For a view with POST actions that create something (API.md §4): each such action is
    named in `idempotent_actions` (the OpenAPI schema documents the header on exactly those)
    and runs its work through `idempotently` once it has checked what it must (object, body).
    A view whose answers hold a secret (`data.secret`) sets `answer_holds_secret`: the
    idempotency store then keeps it encrypted (api.crypto), never in plain text."""

    idempotent_actions: frozenset = frozenset()
    answer_holds_secret = False

    def stored_body(self, content: bytes) -> bytes:
        return crypto.encrypt_answer_secret(content) if self.answer_holds_secret else content

    def replayed_body(self, content: bytes) -> bytes:
        return crypto.decrypt_answer_secret(content) if self.answer_holds_secret else content

    def idempotently(self, request, produce, admit=None):
        """`produce()` at most once per Idempotency-Key (read here: 422 when malformed); with
        no key, just run it. `admit()`: as run_idempotently's."""
        return self.with_idempotency_key(request, idempotency_key_from(request), produce, admit)

    def with_idempotency_key(self, request, key: str | None, produce, admit=None):
        """As `idempotently`, with the key the caller read already."""
        action = getattr(self, "action", None) or "create"  # an APIView's POST is its create
        if action not in self.idempotent_actions:
            raise ImproperlyConfigured(f"{type(self).__name__}.{action} is not idempotent")
        if key is None:
            if admit is not None:
                admit()
            return produce()
        return run_idempotently(
            request,
            key=key,
            produce=produce,
            admit=admit,
            stored_body=self.stored_body,
            replayed_body=self.replayed_body,
        )


class IdempotentCreateMixin(IdempotentActionsMixin):
    """For a view whose POST creates something: a ViewSet routes POST to `create`; an APIView
    sets `post = IdempotentCreateMixin.create` (the mixin defines no `post` itself, or every
    route of a ViewSet would advertise POST in its Allow header).
    The view implements `validate_input(request) -> data` (raises 400/422) and
    `create_validated(request, data) -> Response` (calls one service). The mixin validates the
    Idempotency-Key header, then the body, and only then claims the key — so a request that
    fails validation never claims it."""

    idempotent_actions = frozenset({"create"})

    def create(self, request, *args, **kwargs):
        key = idempotency_key_from(request)
        data = self.validate_input(request)
        return self.with_idempotency_key(request, key, lambda: self.create_validated(request, data))
