"""GET /metrics (API.md §8) in the test process: the token rule, bounded labels, the cost of a
scrape, and what each instrumented boundary records. Across several processes:
test_multiprocess.py."""

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client

from accounts.services import credit_hold, lock_organization
from orders.models import BulkOrder
from phone_numbers.allocation import Criteria
from phone_numbers.carriers import CarrierError, get_carrier
from tests.observability.conftest import parse, value
from tests.support.factories import make_api, make_numbers, make_org

BULK = "/v1/phone-numbers/bulk"


def scrape(token):
    return Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")


def samples(token):
    response = scrape(token)
    assert response.status_code == 200
    return parse(response.content.decode())


def test_it_is_404_when_no_token_is_configured(settings, db):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    assert scrape("anything").status_code == 404


def test_it_is_401_with_a_wrong_or_missing_token(metrics_token, db):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "x"}):
        response = Client().get("/metrics", **headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"amcore_" not in response.content
    # The token is not an API key either way round.
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Token {metrics_token}").status_code == 401


def test_it_serves_the_prometheus_text_format_with_the_right_token(metrics_token, db):
    response = scrape(metrics_token)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    body = response.content.decode()
    for name in (
        "amcore_http_requests_total",
        "amcore_http_request_duration_seconds",
        "amcore_bulk_orders_processing",
        "amcore_bulk_order_oldest_processing_age_seconds",
        "amcore_credit_held_cents",
        "amcore_phone_numbers_available",
    ):
        assert f"# TYPE {name}" in body


def test_requests_are_counted_by_route_template_and_status(metrics_token, alice):
    before = samples(metrics_token)
    response = alice.get("/v1/phone-numbers/7a4c7c1e-7f06-4a43-9a4e-0d9b1c3e1f00")
    assert response.status_code == 404
    after = samples(metrics_token)

    labels = {"route": "/v1/phone-numbers/<str:id>", "method": "GET", "status": "404"}
    delta = value(after, "amcore_http_requests_total", **labels) - value(
        before, "amcore_http_requests_total", **labels
    )
    assert delta == 1


def test_a_thousand_requests_to_distinct_ids_add_no_series(metrics_token, alice, client):
    def requests(start):
        for i in range(start, start + 500):
            assert (
                alice.get(f"/v1/phone-numbers/00000000-0000-4000-8000-{i:012d}").status_code == 404
            )
            assert client.get(f"/no-such-page/{i}").status_code == 404
            assert alice.get(f"/v1/no-such-route/{i}").status_code == 404

    requests(0)  # the first ones create the series (one per route template and status)
    before = samples(metrics_token)
    requests(500)
    after = samples(metrics_token)

    assert set(after) == set(before)
    routes = {dict(labels).get("route") for name, labels in after if "http_request" in name}
    assert not any("00000000" in route or "no-such-page/" in route for route in routes - {None})


def test_a_scrape_costs_a_few_queries_whatever_the_data_size(
    metrics_token, number_prices, django_assert_max_num_queries, settings
):
    settings.METRICS_INVENTORY_COUNT_CAP = 2_000

    def cold_scrape_queries(organizations, numbers):
        for i in range(organizations):
            org = make_org(f"Org {i} of {organizations}", credit_cents=1_000)
            with transaction.atomic():
                locked = lock_organization(org.pk)
                order = BulkOrder.objects.create(
                    organization=locked,
                    quantity=1,
                    number_type="local",
                    unit_price_cents=100,
                    is_backorder=True,
                    status=BulkOrder.Status.PROCESSING,
                )
                credit_hold(organization=locked, cents=100, order_id=order.id, note="held")
        make_numbers(numbers, exchange=f"{200 + organizations}")
        cache.clear()
        with django_assert_max_num_queries(4) as captured:
            parsed = samples(metrics_token)
        return len(captured.captured_queries), parsed

    small, _ = cold_scrape_queries(2, 10)
    large, parsed = cold_scrape_queries(60, 2_000)

    assert small == large == 4
    assert value(parsed, "amcore_bulk_orders_processing") == 62
    assert value(parsed, "amcore_credit_held_cents") == 6_200
    # 2,010 available: counted up to the cap
    assert value(parsed, "amcore_phone_numbers_available", number_type="local") == 2_000
    assert value(parsed, "amcore_phone_numbers_available", number_type="toll_free") == 0


def test_a_scrape_storm_reads_the_database_once_per_cache_period(
    metrics_token, db, django_assert_num_queries, settings
):
    settings.METRICS_CACHE_SECONDS = 300  # longer than 20 scrapes take on a loaded machine
    cache.clear()
    samples(metrics_token)
    with django_assert_num_queries(0):
        for _ in range(20):
            samples(metrics_token)


@pytest.mark.usefixtures("fast_carrier")
def test_bulk_orders_are_counted_by_outcome(metrics_token, number_prices, settings):
    org = make_org("Counted", credit_cents=1_000)
    api = make_api(org)
    make_numbers(2, area_code="415")
    settings.SIMULATED_CARRIER_UNAVAILABLE_AREA_CODES = ["907"]
    before = samples(metrics_token)

    assert api.post(BULK, {"quantity": 2, "area_code": "415"}).status_code == 200
    assert api.post(BULK, {"quantity": 3, "area_code": "907"}).status_code == 409
    assert api.post(BULK, {"quantity": 500, "area_code": "212"}).status_code == 402
    after = samples(metrics_token)

    def moved(outcome):
        name, labels = "amcore_bulk_orders_placed_total", {"mode": "atomic", "outcome": outcome}
        return value(after, name, **labels) - value(before, name, **labels)

    assert (moved("filled"), moved("rejected_inventory"), moved("rejected_credit")) == (1, 1, 1)
    assert moved("backordered") == 0


def test_carrier_calls_are_counted_at_the_adapter_interface(metrics_token, db):
    before = samples(metrics_token)
    carrier = get_carrier()
    with pytest.raises(CarrierError):
        carrier.check_order("not-a-reference")
    carrier.check_order(carrier.place_order(**_order_args()))
    after = samples(metrics_token)

    def moved(operation, outcome):
        labels = {"carrier": "simulated", "operation": operation, "outcome": outcome}
        return value(after, "amcore_carrier_calls_total", **labels) - value(
            before, "amcore_carrier_calls_total", **labels
        )

    assert moved("check_order", "error") == 1
    assert moved("check_order", "ok") == 1
    assert moved("place_order", "ok") == 1
    count = "amcore_carrier_call_duration_seconds_count"
    labels = {"carrier": "simulated", "operation": "check_order"}
    assert value(after, count, **labels) - value(before, count, **labels) == 2


def _order_args():
    return {
        "criteria": Criteria(number_type="local", area_code="415"),
        "quantity": 1,
        "customer_reference": "x:1",
    }
