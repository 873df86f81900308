import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts import scopes
from accounts.services import api_key_create, organization_create
from phone_numbers.models import NumberPrice

POSTGRES_ONLY_REASON = (
    "needs PostgreSQL (row locks, SKIP LOCKED, real concurrency): set DATABASE_URL to run it"
)


def pytest_collection_modifyitems(config, items):
    if settings.IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason=POSTGRES_ONLY_REASON)
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Rate-limit counters live in the shared cache; every test starts with none.
    cache.clear()
    yield


class Api:
    """A client that speaks as one API key: `alice.post(path, body)` -> DRF Response."""

    def __init__(self, secret=None):
        self.client = APIClient()
        self.secret = secret
        if secret:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.client.post(path, body, format="json", **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.client.patch(path, body, format="json", **kwargs)

    def delete(self, path, **kwargs):
        return self.client.delete(path, **kwargs)


def make_org(name, credit_cents=10_000):
    return organization_create(name=name, credit_cents=credit_cents)


def make_api(org, key_scopes=scopes.ALL):
    _, secret = api_key_create(organization=org, scopes=key_scopes, label="test")
    return Api(secret)


@pytest.fixture
def alice_org(db):
    return make_org("Alice Telecom")


@pytest.fixture
def bob_org(db):
    return make_org("Bob Networks")


@pytest.fixture
def alice(alice_org):
    """Alice's key, with every scope."""
    return make_api(alice_org)


@pytest.fixture
def bob(bob_org):
    return make_api(bob_org)


@pytest.fixture
def anonymous(db):
    return Api()


@pytest.fixture
def number_prices(transactional_db):
    """Transactional tests flush the database, data migrations included: put the default
    prices back."""
    for number_type, cents in (("local", 100), ("toll_free", 200)):
        NumberPrice.objects.get_or_create(number_type=number_type, defaults={"price_cents": cents})
