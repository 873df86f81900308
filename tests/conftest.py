import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache

from phone_numbers.models import NumberPrice
from tests.support.browser import PASSWORD
from tests.support.factories import Api, make_api, make_org
from tests.support.receivers import Receiver
from tests.support.staff import staff_login

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
def fast_carrier(settings):
    """The simulated carrier delivers at once, nothing fails, every area code is supplied."""
    settings.SIMULATED_CARRIER_DELAY_SECONDS = 0
    settings.SIMULATED_CARRIER_FAILURE_RATE = 0
    settings.SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES = []
    return settings


@pytest.fixture
def receiver():
    """A webhook receiver on loopback (tests.support.receivers.Receiver), stopped afterwards."""
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def superuser(db):
    """A superuser with the browser tests' password (tests.support.browser.PASSWORD)."""
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def superuser_client(client, superuser):
    """A test client logged in as `superuser`, second factor included."""
    return staff_login(client, superuser)


@pytest.fixture
def admin_client(client, admin_user):
    """pytest-django's admin_client, logged in with the second factor too (staff_login)."""
    return staff_login(client, admin_user)
