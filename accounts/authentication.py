import hmac
import re
from datetime import timedelta

import structlog
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication

from accounts.models import API_KEY_VISIBLE_CHARS, ApiKey, hash_api_key_secret
from api.errors import Unauthorized

KEY_FORMAT = re.compile(r"am_live_[A-Za-z0-9_-]{32,200}")
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer am_live_...`. Every failure raises the same Unauthorized, whatever
    its cause, so the answer tells an attacker nothing about which keys exist."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not KEY_FORMAT.fullmatch(secret.strip()):
            raise Unauthorized()
        secret = secret.strip()
        digest = hash_api_key_secret(secret)
        now = timezone.now()
        # A secret is the key's current one or, during a rotation's grace period, the one it
        # replaced; both are looked up by their prefix. No ORDER BY: at most one key matches.
        prefix = secret[:API_KEY_VISIBLE_CHARS]
        candidates = (
            ApiKey.objects.select_related("organization")
            .filter(Q(prefix=prefix) | Q(previous_prefix=prefix))
            .order_by()
        )
        api_key = None
        for candidate in candidates:
            if hmac.compare_digest(candidate.secret_hash, digest) or (
                candidate.previous_secret_hash
                and hmac.compare_digest(candidate.previous_secret_hash, digest)
                and candidate.previous_secret_valid(now)
            ):
                api_key = candidate
        if api_key is None or not api_key.is_active(now):
            raise Unauthorized()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            # At most one write a minute per key, not one per request.
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        request.organization = api_key.organization
        # Every later log line of the request (the request line included) says who it was for;
        # the prefix identifies the key without revealing it.
        structlog.contextvars.bind_contextvars(
            organization_id=str(api_key.organization_id), key_prefix=api_key.prefix
        )
        return (None, api_key)

    def authenticate_header(self, request):
        return "Bearer"


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer am_live_...` (API.md §1).",
        }
