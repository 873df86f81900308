import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import CreditTransaction, Organization
from api.idempotency import purge_expired_keys
from api.models import IdempotencyKey
from orders.models import BulkOrder
from tests.support.factories import make_api, make_org

pytestmark = pytest.mark.urls("tests.api.idempotency_urls")
URL = "/v1/test-orders"


def post(api, body, key="key-1", url=URL, **headers):
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return api.post(url, body, **headers)


def charges(org):
    return CreditTransaction.objects.filter(organization=org, kind__in=["charge", "hold"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, status",
    [({"quantity": 3}, 200), ({"quantity": 3, "backorder": True}, 202), ({"quantity": 999}, 402)],
)
def test_it_runs_once_for_ten_identical_requests(alice, alice_org, body, status):
    responses = [post(alice, body) for _ in range(10)]

    assert {r.status_code for r in responses} == {status}
    assert len({r.content for r in responses}) == 1
    assert "Idempotent-Replayed" not in responses[0]
    assert all(r["Idempotent-Replayed"] == "true" for r in responses[1:])
    expected_orders = 0 if status == 402 else 1
    assert BulkOrder.objects.filter(organization=alice_org).count() == expected_orders
    assert charges(alice_org).count() == expected_orders
    if status == 202:
        assert {r["Location"] for r in responses} == {responses[0]["Location"]}


@pytest.mark.django_db
def test_it_compares_bodies_after_parsing(alice, alice_org):
    first = alice.client.post(
        URL,
        '{"quantity": 2, "backorder": false}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    second = alice.client.post(
        URL,
        '{ "backorder":false,\n "quantity":2 }',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )

    assert first.status_code == second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert BulkOrder.objects.filter(organization=alice_org).count() == 1


@pytest.mark.django_db
def test_it_refuses_the_same_key_with_a_different_body(alice, alice_org):
    post(alice, {"quantity": 1})

    response = post(alice, {"quantity": 2})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert BulkOrder.objects.filter(organization=alice_org).count() == 1


@pytest.mark.django_db
def test_it_refuses_the_same_key_on_another_route(alice, alice_org):
    post(alice, {"quantity": 1})

    response = post(alice, {"quantity": 1}, url="/v1/other-test-orders")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


@pytest.mark.django_db
def test_it_keeps_keys_of_organizations_apart(alice, alice_org, bob, bob_org):
    post(alice, {"quantity": 1})

    response = post(bob, {"quantity": 1})

    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert BulkOrder.objects.filter(organization=bob_org).count() == 1
    assert BulkOrder.objects.filter(organization=alice_org).count() == 1


@pytest.mark.django_db
def test_it_frees_the_key_after_the_ttl(alice, alice_org, settings):
    post(alice, {"quantity": 1})
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = post(alice, {"quantity": 2})

    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert BulkOrder.objects.filter(organization=alice_org).count() == 2
    assert IdempotencyKey.objects.get().expires_at > timezone.now() + timedelta(hours=23)


@pytest.mark.django_db
def test_a_crash_before_commit_leaves_nothing_and_frees_the_key(alice, alice_org):
    alice.client.raise_request_exception = False

    crashed = post(alice, {"quantity": 1, "explode": True})

    assert crashed.status_code == 500
    assert crashed.json()["error"]["message"] == "internal error"
    assert BulkOrder.objects.count() == 0
    assert charges(alice_org).count() == 0
    assert Organization.objects.get(pk=alice_org.pk).balance_cents == 10_000
    assert not IdempotencyKey.objects.exists()
    retried = post(alice, {"quantity": 1, "explode": True})
    assert retried.status_code == 500  # ran again: the key was free


@pytest.mark.django_db
def test_it_takes_over_a_key_left_in_progress_by_a_dead_request(alice, alice_org):
    # What a request killed mid-flight leaves behind: the claimed row, unlocked, no response.
    IdempotencyKey.objects.create(
        organization_id=alice_org.id,
        key="key-1",
        fingerprint=__import__("hashlib")
        .sha256(b'POST\n/v1/test-orders\n{"quantity":1}')
        .hexdigest(),
        method="POST",
        path=URL,
        expires_at=timezone.now() + timedelta(hours=24),
    )

    response = post(alice, {"quantity": 1})

    assert response.status_code == 200
    assert BulkOrder.objects.filter(organization=alice_org).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "x" * 10_000, "caf\u00e9", "tab\there", "nul\x00"])
def test_it_validates_the_header(alice, alice_org, key):
    response = alice.post(URL, {"quantity": 1}, HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_FAILED"
    assert "Idempotency-Key" in response.json()["error"]["details"]
    assert not BulkOrder.objects.exists()


@pytest.mark.django_db
def test_a_request_failing_validation_does_not_claim_the_key(alice, alice_org):
    invalid = post(alice, {"quantity": "5"})
    valid = post(alice, {"quantity": 5})

    assert invalid.status_code == 422
    assert valid.status_code == 200
    assert "Idempotent-Replayed" not in valid


@pytest.mark.django_db
def test_it_purges_expired_keys(alice, alice_org):
    post(alice, {"quantity": 1}, key="old")
    post(alice, {"quantity": 1}, key="new")
    IdempotencyKey.objects.filter(key="old").update(expires_at=timezone.now())

    assert purge_expired_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_requests_with_one_key_create_one_order():
    org = make_org("Concurrent Co")
    api = make_api(org)
    barrier = threading.Barrier(50)
    results = []

    def send():
        barrier.wait()
        try:
            results.append(post(api, {"quantity": 2, "backorder": True}, key="same"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(r.status_code for r in results)
    assert len(results) == 50
    assert set(statuses) <= {202, 409}, statuses
    originals = [r for r in results if r.status_code == 202 and "Idempotent-Replayed" not in r]
    assert len(originals) == 1
    assert all(r["Retry-After"] == "1" for r in results if r.status_code == 409)
    assert BulkOrder.objects.filter(organization=org).count() == 1
    assert charges(org).count() == 1
    bodies = {r.content for r in results if r.status_code == 202}
    assert len(bodies) == 1
