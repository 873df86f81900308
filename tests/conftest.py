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


def confirmed_device(user):
    """The user's TOTP device (django-otp), enrolled and confirmed, made if missing."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="test phone", confirmed=True)


def totp_code(device, *, steps_ahead=0) -> str:
    """The code an authenticator app shows now for `device` (django-otp's own TOTP class);
    steps_ahead=1 is the next 30-second code (a code is accepted once only)."""
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def staff_login(client, user):
    """Log a test client in to the back office as `user`, second factor included: the session
    holds a confirmed TOTP device, as django_otp.login leaves it after a code was entered."""
    from django_otp import DEVICE_ID_SESSION_KEY

    device = confirmed_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


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


@pytest.fixture
def admin_client(client, admin_user):
    """pytest-django's admin_client, logged in with the second factor too (staff_login)."""
    return staff_login(client, admin_user)
