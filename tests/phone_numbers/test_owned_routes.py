"""Route-level guarantees built from the URL conf itself, so a route added later is covered
without anyone remembering to add it here:

- every /v1/ route with an id in its path answers 404 to another organization's id, for every
  method it serves (API.md §1: never 403, so ids cannot be probed);
- every fixed /v1/ route resolves to its own view (an id route such as
  /v1/phone-numbers/<number_id> must not swallow /bulk, /search, /orders...).
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from accounts.services import api_key_create
from orders.models import BulkOrder
from phone_numbers.services.reservations import reservation_create
from tests.support.factories import add_numbers, give
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_create, webhook_endpoint_send_test

METHODS = ("get", "post", "put", "patch", "delete")


def _captures(pattern) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters is not None:
        return list(converters)
    return list(pattern.regex.groupindex)


def _methods(callback) -> list[str]:
    actions = getattr(callback, "actions", None)  # a DRF viewset's method -> action map
    if actions is not None:
        return sorted(actions)
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return [method for method in METHODS if hasattr(view_class, method)]


def v1_routes():
    """(route, name, captured parameters, methods) of every pattern under /v1/."""
    found = []

    def walk(patterns, prefix, captured):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            names = captured + _captures(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route, names)
            elif isinstance(entry, URLPattern) and route.startswith("v1/"):
                found.append((route, entry.name, names, _methods(entry.callback)))

    walk(get_resolver().url_patterns, "", [])
    return found


ROUTES = v1_routes()
ID_ROUTES = [route for route in ROUTES if route[2]]
FIXED_ROUTES = [route for route in ROUTES if not route[2] and not route[0].startswith("v1/^")]


# How to make another organization's resource for each route with an id in its path, and a
# valid body for the methods that take one. A new id route fails below until it is added here.
def _bob_number(bob_org):
    return give(bob_org, "+14155550199", label="bob's")["+14155550199"]


def _bob_backorder(bob_org):
    return BulkOrder.objects.create(
        organization=bob_org,
        quantity=3,
        number_type="local",
        unit_price_cents=100,
        is_backorder=True,
        status=BulkOrder.Status.PROCESSING,
    ).pk


def _bob_webhook_endpoint(bob_org):
    endpoint, _ = webhook_endpoint_create(
        organization=bob_org,
        url="https://hooks.example/bob",
        events=["phone_number.bulk_order.completed"],
    )
    return endpoint.pk


def _bob_webhook_delivery(bob_org):
    endpoint = WebhookEndpoint.objects.get(pk=_bob_webhook_endpoint(bob_org))
    return webhook_endpoint_send_test(endpoint=endpoint).pk


def _bob_api_key(bob_org):
    api_key, _ = api_key_create(organization=bob_org, label="bob's other key")
    return api_key.pk


def _bob_reservation(bob_org):
    add_numbers("+14155550198")
    return reservation_create(
        organization_id=bob_org.id, numbers=["+14155550198"], ttl_seconds=600
    ).pk


OTHER_ORGANIZATION_RESOURCE = {
    "phone-number-reservation": _bob_reservation,
    "phone-number-reservation-extend": _bob_reservation,
    "phone-number": _bob_number,
    "bulk-order": _bob_backorder,
    "webhook-endpoint": _bob_webhook_endpoint,
    "bulk-order-cancel": _bob_backorder,
    "webhook-rotate-secret": _bob_webhook_endpoint,
    "webhook-test": _bob_webhook_endpoint,
    "webhook-delivery": _bob_webhook_delivery,
    "webhook-delivery-replay": _bob_webhook_delivery,
    "api-key": _bob_api_key,
    "api-key-rotate": _bob_api_key,
}
# Routes that cannot be read (POST only): Bob's view of the resource is read at this one.
READ_ROUTE = {
    "phone-number-reservation-extend": "phone-number-reservation",
    "bulk-order-cancel": "bulk-order",
    "webhook-rotate-secret": "webhook-endpoint",
    "webhook-test": "webhook-endpoint",
    "webhook-delivery-replay": "webhook-delivery",
}
# Resources with no detail route to read: Bob's list of them is read instead.
READ_LIST_ROUTE = {"api-key": "api-keys", "api-key-rotate": "api-keys"}
BODIES = {"patch": {"label": "alice was here"}, "put": {}, "post": {}}


def test_the_url_conf_has_the_id_routes_we_expect():
    # Guards the walk itself: if it found nothing, the parametrized test would pass vacuously.
    assert {name for _, name, _, _ in ID_ROUTES} >= set(OTHER_ORGANIZATION_RESOURCE)
    assert len(FIXED_ROUTES) >= 8


@pytest.mark.parametrize(
    ("route", "name", "params", "method"),
    [
        pytest.param(route, name, params, method, id=f"{method.upper()} /{route}")
        for route, name, params, methods in ID_ROUTES
        for method in methods
    ],
)
def test_every_route_with_an_id_answers_404_to_another_organizations_id(
    route, name, params, method, alice, bob, bob_org
):
    assert name in OTHER_ORGANIZATION_RESOURCE, (
        f"/{route} has an id in its path: add to OTHER_ORGANIZATION_RESOURCE how to make "
        "another organization's resource for it"
    )
    assert len(params) == 1, f"/{route}: extend this test for routes with several ids"
    resource_id = OTHER_ORGANIZATION_RESOURCE[name](bob_org)
    path = reverse(name, kwargs={params[0]: str(resource_id)})
    if name in READ_LIST_ROUTE:
        read_path = reverse(READ_LIST_ROUTE[name])
    else:
        read_path = reverse(READ_ROUTE.get(name, name), kwargs={params[0]: str(resource_id)})
    bobs_view_before = bob.get(read_path).json()

    if method in BODIES:
        response = getattr(alice, method)(path, BODIES[method])
    else:
        response = getattr(alice, method)(path)

    assert response.status_code == 404, response.json()
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert bob.get(read_path).json() == bobs_view_before  # untouched, still Bob's


@pytest.mark.parametrize(
    ("route", "name"),
    [pytest.param(route, name, id=f"/{route}") for route, name, _, _ in FIXED_ROUTES],
)
def test_every_fixed_route_resolves_to_its_own_view(route, name):
    assert name, f"/{route} has no name"

    assert resolve(f"/{route}").url_name == name


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/phone-numbers", "phone-numbers"),
        ("/v1/phone-numbers/search", "phone-numbers-search"),
        ("/v1/phone-numbers/orders", "phone-numbers-orders"),
        ("/v1/phone-numbers/bulk", "bulk-orders"),
        ("/v1/phone-numbers/bulk/release", "phone-numbers-bulk-release"),
        ("/v1/phone-numbers/bulk/0b7c1a2e-5f0c-4a3e-9d5b-1c2d3e4f5a6b", "bulk-order"),
        ("/v1/phone-numbers/0b7c1a2e-5f0c-4a3e-9d5b-1c2d3e4f5a6b", "phone-number"),
        ("/v1/phone-numbers/not-an-id", "phone-number"),
        ("/v1/billing/transactions", "billing-transactions"),
    ],
)
def test_phone_number_paths_resolve_to_the_right_route(path, name):
    assert resolve(path).url_name == name


@pytest.mark.parametrize("path", ["/v1/phone-numbers/search", "/v1/phone-numbers/bulk/release"])
def test_a_wrong_method_on_a_fixed_route_is_405_not_an_id_lookup(alice, path):
    response = alice.get(path)

    assert response.status_code == 405
