import pytest
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "scrape-token-0123456789abcdef"


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def parse(text: str) -> dict[tuple, float]:
    """{(sample name, ((label, value), ...)): value} of a /metrics body."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
