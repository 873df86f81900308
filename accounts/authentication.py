import functools
import hmac
import re
from datetime import timedelta

import structlog
from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication

from accounts.models import API_KEY_VISIBLE_CHARS, ApiKey, Organization, hash_api_key_secret
from api.errors import Unauthorized
from api.sql import column_list, instance_from_row

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
        api_key = _api_key_from_database(secret, digest, now)
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


def _secret_matches(api_key: ApiKey, digest: str, now) -> bool:
    """The presented secret is the key's current one or, during a rotation's grace period, the
    one it replaced."""
    return hmac.compare_digest(api_key.secret_hash, digest) or (
        bool(api_key.previous_secret_hash)
        and hmac.compare_digest(api_key.previous_secret_hash, digest)
        and api_key.previous_secret_valid(now)
    )


def _api_key_from_database(secret: str, digest: str, now) -> ApiKey | None:
    # Both secrets are looked up by their prefix. No ORDER BY: at most one key matches.
    prefix = secret[:API_KEY_VISIBLE_CHARS]
    with connection.cursor() as cursor:
        cursor.execute(_key_lookup_sql(), [prefix, prefix])
        rows = cursor.fetchall()
    width = len(ApiKey._meta.concrete_fields)
    for row in rows:
        api_key = instance_from_row(ApiKey, row[:width])
        if _secret_matches(api_key, digest, now):
            api_key.organization = instance_from_row(Organization, row[width:])
            return api_key
    return None


@functools.cache
def _key_lookup_sql() -> str:
    """What ApiKey.objects.select_related("organization").filter(Q(prefix=p) |
    Q(previous_prefix=p)) sends, without compiling it on every request (api.sql)."""
    keys = connection.ops.quote_name(ApiKey._meta.db_table)
    organizations = connection.ops.quote_name(Organization._meta.db_table)
    return (
        f"SELECT {column_list(ApiKey, keys)}, {column_list(Organization, organizations)} "
        f"FROM {keys} JOIN {organizations} ON {organizations}.id = {keys}.organization_id "
        f"WHERE {keys}.prefix = %s OR {keys}.previous_prefix = %s"
    )


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer am_live_...` (API.md §1).",
        }
