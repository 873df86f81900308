import ipaddress
import uuid

import pytest
from django.db import transaction

from accounts import scopes
from tests.support.factories import make_api, make_terminal_order
from webhooks import services
from webhooks.models import WebhookEndpoint

EVENT = "phone_number.bulk_order.completed"
GOOD = {"url": "https://hooks.example.com/amcore", "events": [EVENT], "description": "prod"}


def create(api, **changes):
    return api.post("/v1/webhooks", {**GOOD, **changes})


def test_it_creates_an_endpoint_and_shows_the_secret_once(alice, alice_org):
    response = create(alice)

    assert response.status_code == 201
    data = response.json()["data"]
    assert data["url"] == GOOD["url"]
    assert data["events"] == [EVENT]
    assert data["description"] == "prod"
    assert data["secret"].startswith("whsec_") and len(data["secret"]) > 40
    assert WebhookEndpoint.objects.get(pk=data["id"]).organization == alice_org

    shown = alice.get(f"/v1/webhooks/{data['id']}").json()["data"]
    listed = alice.get("/v1/webhooks").json()["data"]
    assert "secret" not in shown
    assert shown == {key: value for key, value in data.items() if key != "secret"}
    assert [item["id"] for item in listed] == [data["id"]]
    assert "secret" not in listed[0]
    assert data["secret"] not in str(alice.get("/v1/webhooks/deliveries").json())


def test_it_creates_one_endpoint_per_idempotency_key(alice, alice_org):
    first = alice.post("/v1/webhooks", GOOD, HTTP_IDEMPOTENCY_KEY="hook-1")
    again = alice.post("/v1/webhooks", GOOD, HTTP_IDEMPOTENCY_KEY="hook-1")

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert WebhookEndpoint.objects.filter(organization=alice_org).count() == 1


def test_it_lists_endpoints_newest_first_with_a_cursor(alice):
    ids = [create(alice).json()["data"]["id"] for _ in range(3)]

    first = alice.get("/v1/webhooks?limit=2").json()
    second = alice.get(f"/v1/webhooks?limit=2&cursor={first['meta']['next_cursor']}").json()

    assert [item["id"] for item in first["data"] + second["data"]] == ids[::-1]
    assert second["meta"]["next_cursor"] is None
    assert alice.get("/v1/webhooks?cursor=forged").json()["error"]["details"] == {
        "cursor": "is not a cursor this API returned"
    }


def test_it_deletes_an_endpoint(alice):
    endpoint_id = create(alice).json()["data"]["id"]

    response = alice.delete(f"/v1/webhooks/{endpoint_id}")

    assert response.status_code == 200
    assert response.json()["data"] == {"id": endpoint_id, "status": "deleted"}
    assert alice.get(f"/v1/webhooks/{endpoint_id}").status_code == 404
    assert alice.delete(f"/v1/webhooks/{endpoint_id}").status_code == 404
    assert alice.get("/v1/webhooks").json()["data"] == []


def test_it_hides_other_organizations_endpoints(alice, bob):
    endpoint_id = create(alice).json()["data"]["id"]

    assert bob.get(f"/v1/webhooks/{endpoint_id}").status_code == 404
    assert bob.delete(f"/v1/webhooks/{endpoint_id}").json()["error"]["code"] == "NOT_FOUND"
    assert bob.get("/v1/webhooks").json()["data"] == []
    assert alice.get(f"/v1/webhooks/{endpoint_id}").status_code == 200


def test_it_answers_404_for_an_unknown_id(alice):
    assert alice.get(f"/v1/webhooks/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize("method", ["get", "delete"])
def test_it_refuses_a_malformed_id(alice, method):
    response = getattr(alice, method)("/v1/webhooks/not-a-uuid")

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"id": "must be a UUID"}


@pytest.mark.parametrize(
    ("method", "path", "needs"),
    [
        ("post", "/v1/webhooks", scopes.WEBHOOKS_WRITE),
        ("get", "/v1/webhooks", scopes.WEBHOOKS_READ),
        ("get", "/v1/webhooks/{id}", scopes.WEBHOOKS_READ),
        ("delete", "/v1/webhooks/{id}", scopes.WEBHOOKS_WRITE),
        ("get", "/v1/webhooks/deliveries", scopes.WEBHOOKS_READ),
    ],
)
def test_it_needs_the_route_scope(alice, alice_org, method, path, needs):
    endpoint_id = create(alice).json()["data"]["id"]
    path = path.format(id=endpoint_id)
    others = [scope for scope in scopes.ALL if scope != needs]
    without = make_api(alice_org, key_scopes=others)
    only = make_api(alice_org, key_scopes=[needs])

    args = (path, GOOD) if method == "post" else (path,)
    refused = getattr(without, method)(*args)
    allowed = getattr(only, method)(*args)

    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "missing required scope"
    assert allowed.status_code in (200, 201)


def test_it_needs_a_key(anonymous):
    assert anonymous.get("/v1/webhooks").status_code == 401
    assert anonymous.post("/v1/webhooks", GOOD).status_code == 401


def test_it_answers_405_for_a_wrong_method(alice):
    assert alice.patch("/v1/webhooks", GOOD).status_code == 405
    assert alice.post("/v1/webhooks/deliveries", {}).status_code == 405


def test_it_requires_https(alice, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False

    response = create(alice, url="http://hooks.example.com/amcore")

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {
        "url": "must be an absolute https:// URL of at most 2048 characters"
    }


def test_it_allows_http_to_loopback_in_development(alice, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True

    response = create(alice, url="http://127.0.0.1:9800/hooks")

    assert response.status_code == 201


def test_the_development_message_does_not_outlive_the_setting(alice, settings):
    # The serializer adjusts its url field per request (api.serializers.InputSerializer copies
    # the declared fields shallowly): with the setting on, a bad URL is told about http://;
    # turned off again, the next request must get the https-only message.
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    allowed = create(alice, url="ftp://hooks.example.com/amcore")
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    refused = create(alice, url="http://hooks.example.com/amcore")

    assert allowed.json()["error"]["details"] == {
        "url": "must be an absolute https:// or http:// URL of at most 2048 characters"
    }
    assert refused.json()["error"]["details"] == {
        "url": "must be an absolute https:// URL of at most 2048 characters"
    }


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest",
        "https://10.0.0.1/",
    ],
)
def test_it_refuses_a_private_address_literal(alice, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False

    response = create(alice, url=url)

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"url": "target address not allowed"}


def test_it_refuses_an_unknown_field(alice):
    response = create(alice, secret="mine")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_INPUT"
    assert response.json()["error"]["details"] == {"secret": "unknown field"}


EVENTS_MESSAGE = "must be a non-empty list of event types from: phone_number.bulk_order.completed"


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"events": [EVENT]}, {"url": "is required"}),
        ({"url": GOOD["url"]}, {"events": "is required"}),
        (
            {**GOOD, "url": 5},
            {"url": "must be an absolute https:// URL of at most 2048 characters"},
        ),
        (
            {**GOOD, "url": "https://" + "a" * 2050 + ".com/"},
            {"url": "must be an absolute https:// URL of at most 2048 characters"},
        ),
        (
            {**GOOD, "url": "https://user:pw@hooks.example.com/"},
            {"url": "must not contain a user name or password"},
        ),
        ({**GOOD, "events": []}, {"events": EVENTS_MESSAGE}),
        ({**GOOD, "events": "phone_number.bulk_order.completed"}, {"events": EVENTS_MESSAGE}),
        ({**GOOD, "events": ["phone_number.released"]}, {"events": EVENTS_MESSAGE}),
        ({**GOOD, "events": [1]}, {"events": EVENTS_MESSAGE}),
        ({**GOOD, "events": None}, {"events": EVENTS_MESSAGE}),
        (
            {**GOOD, "description": 5},
            {"description": "must be a string of at most 256 printable characters"},
        ),
        (
            {**GOOD, "description": "x" * 257},
            {"description": "must be a string of at most 256 printable characters"},
        ),
        (
            {**GOOD, "description": "bell\x07"},
            {"description": "must be a string of at most 256 printable characters"},
        ),
    ],
)
def test_it_validates_the_body(alice, body, details):
    response = alice.post("/v1/webhooks", body)

    assert response.status_code == 422
    assert response.json()["error"]["message"] == "validation failed"
    assert response.json()["error"]["details"] == details


def test_it_refuses_a_body_that_is_not_an_object(alice):
    response = alice.client.post("/v1/webhooks", "[1]", content_type="application/json")

    assert response.status_code == 400


def test_it_limits_endpoints_per_organization(alice, monkeypatch):
    monkeypatch.setattr(services, "MAX_ENDPOINTS_PER_ORGANIZATION", 2)
    create(alice)
    create(alice)

    response = create(alice)

    assert response.status_code == 422
    assert "at most 2 webhook endpoints" in response.json()["error"]["details"]["url"]


def test_it_lists_deliveries_with_their_attempts(alice, alice_org, bob, settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    endpoint_id = create(alice).json()["data"]["id"]
    monkeypatch.setattr(
        services.transport,
        "resolve_host",
        lambda host, port: [ipaddress.ip_address("10.0.0.7")],
    )
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))
    delivery = event.deliveries.get()
    services.delivery_attempt(delivery_id=delivery.id)

    response = alice.get("/v1/webhooks/deliveries")
    filtered = alice.get(f"/v1/webhooks/deliveries?status=dead&endpoint_id={endpoint_id}")

    assert response.status_code == 200
    [item] = response.json()["data"]
    assert item["id"] == str(delivery.id)
    assert item["event_id"] == event.id
    assert item["event_type"] == EVENT
    assert item["endpoint_id"] == endpoint_id
    assert item["status"] == "failed-retrying"
    assert item["attempt_count"] == 1
    assert item["next_attempt_at"] is not None
    assert item["delivered_at"] is None
    assert item["attempts"] == [
        {
            "at": item["attempts"][0]["at"],
            "status_code": None,
            "latency_ms": None,
            # The customer is not told what the name resolved to.
            "error": "refused: target address not allowed",
            "succeeded": False,
        }
    ]
    assert response.json()["meta"] == {"next_cursor": None}
    assert filtered.json()["data"] == []
    assert bob.get("/v1/webhooks/deliveries").json()["data"] == []


@pytest.mark.parametrize(
    ("query", "details"),
    [
        ("status=lost", {"status": "must be one of pending, delivered, failed-retrying, dead"}),
        ("endpoint_id=nope", {"endpoint_id": "must be a UUID"}),
        ("limit=0", {"limit": "must be an integer from 1 to 100"}),
    ],
)
def test_it_validates_the_deliveries_filters(alice, query, details):
    response = alice.get(f"/v1/webhooks/deliveries?{query}")

    assert response.status_code == 422
    assert response.json()["error"]["details"] == details


def test_it_lists_deliveries_in_a_constant_number_of_queries(
    alice, alice_org, django_assert_max_num_queries
):
    create(alice)
    create(alice)
    for _ in range(5):
        with transaction.atomic():
            services.bulk_order_completed(order=make_terminal_order(alice_org))

    # key lookup, deliveries with event and endpoint, their attempts
    with django_assert_max_num_queries(3):
        response = alice.get("/v1/webhooks/deliveries")

    assert len(response.json()["data"]) == 10
