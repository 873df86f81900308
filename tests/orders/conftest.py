import pytest

from tests.fakes.telnyx import FakeTelnyx


@pytest.fixture
def telnyx(settings):
    """The fake Telnyx on loopback, with this process's carrier settings pointed at it."""
    fake = FakeTelnyx().start()
    settings.CARRIER_BACKEND = "telnyx"
    settings.TELNYX_API_KEY = "KEY-test"
    settings.TELNYX_API_BASE_URL = fake.base_url
    settings.TELNYX_PUBLIC_KEY = fake.public_key_b64()
    settings.TELNYX_TIMEOUT_SECONDS = 2
    yield fake
    fake.stop()
