"""The observability settings fail loudly, like every other."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.support.settings import load_settings


def test_a_multiprocess_directory_that_does_not_exist_stops_start_up(monkeypatch, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="PROMETHEUS_MULTIPROC_DIR"):
        load_settings(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "missing"))

    assert load_settings(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))["METRICS_TOKEN"] == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("METRICS_CACHE_SECONDS", "soon"),
        ("METRICS_CACHE_SECONDS", "301"),
        ("METRICS_INVENTORY_COUNT_CAP", "0"),
        ("TRUST_X_FORWARDED_FOR", "maybe"),
        ("SENTRY_TRACES_SAMPLE_RATE", "2"),
    ],
)
def test_a_bad_value_names_the_variable(monkeypatch, name, value):
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(monkeypatch, **{name: value})
