import pytest

from tests.support.metrics import TOKEN


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN
