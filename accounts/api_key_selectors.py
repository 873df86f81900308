"""Reads of API keys for the API-key routes, always scoped to one organization."""

from accounts.models import ApiKey
from api.errors import NotFound
from api.serializers import parse_uuid


def api_keys_for(organization):
    """Every key of the organization, revoked and expired ones included (the list route pages
    them newest first, served by the (organization, -created_at, -id) index)."""
    return ApiKey.objects.filter(organization=organization)


def api_key_get(*, organization, key_id: str) -> ApiKey:
    """A key of this organization; another organization's id is the same 404 as an unknown
    one, so ids cannot be probed."""
    try:
        return api_keys_for(organization).get(pk=parse_uuid(key_id))
    except ApiKey.DoesNotExist as exc:
        raise NotFound() from exc
