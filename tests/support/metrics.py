"""Reading /metrics in tests: `parse` a Prometheus text body into {(name, labels): value},
`value` of one sample (0.0 when absent), and the scrape `TOKEN` the tests configure."""

from prometheus_client.parser import text_string_to_metric_families

TOKEN = "scrape-token-0123456789abcdef"


def parse(text: str) -> dict[tuple, float]:
    """{(sample name, ((label, value), ...)): value} of a /metrics body."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
