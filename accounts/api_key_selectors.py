"""Reads of API keys for the API-key routes, always scoped to one organization."""

from accounts.models import ApiKey


def api_keys_for(organization):
    """Every key of the organization, revoked and expired ones included (the list route pages
    them newest first, served by the (organization, -created_at, -id) index)."""
    return ApiKey.objects.filter(organization=organization)
