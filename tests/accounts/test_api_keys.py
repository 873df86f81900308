"""/v1/api-keys (API.md §7): a customer's keys managed with a key."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from accounts import scopes
from accounts.models import ApiKey, ApiKeyEvent
from accounts.services import api_key_create
from api.models import IdempotencyKey
from tests.support.factories import Api, make_api

MANAGER_SCOPES = [scopes.APIKEYS_READ, scopes.APIKEYS_WRITE, scopes.NUMBERS_READ]


def manager_of(org, key_scopes=MANAGER_SCOPES):
    key, secret = api_key_create(organization=org, scopes=key_scopes, label="manager")
    return key, Api(secret)


def create(api, **body):
    return api.post("/v1/api-keys", {"scopes": [scopes.NUMBERS_READ], "label": "ci", **body})


def test_it_creates_a_key_with_some_of_the_callers_scopes(alice_org):
    manager_key, manager = manager_of(alice_org)

    response = create(manager, scopes=[scopes.NUMBERS_READ, scopes.APIKEYS_READ])

    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    data = response.json()["data"]
    assert data["scopes"] == [scopes.APIKEYS_READ, scopes.NUMBERS_READ]
    assert data["label"] == "ci"
    assert data["secret"].startswith("am_live_") and data["prefix"] == data["secret"][:12]
    assert data["revoked_at"] is None and data["expires_at"] is None
    new = Api(data["secret"])
    assert new.get("/v1/api-keys").status_code == 200
    assert new.post("/v1/api-keys", {"scopes": [scopes.NUMBERS_READ]}).status_code == 403
    key = ApiKey.objects.get(pk=data["id"])
    assert key.organization == alice_org
    assert data["secret"] not in str(ApiKey.objects.values().get(pk=key.pk))
    event = ApiKeyEvent.objects.get(api_key=key)
    assert (event.action, event.actor_key, event.organization) == (
        "created",
        manager_key,
        alice_org,
    )
    assert event.request_id == response["X-Request-Id"]
    assert event.details["scopes"] == [scopes.APIKEYS_READ, scopes.NUMBERS_READ]


def test_it_refuses_a_scope_the_calling_key_does_not_hold(alice_org):
    _, manager = manager_of(alice_org)

    response = create(manager, scopes=[scopes.NUMBERS_READ, scopes.BILLING_READ])

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert response.json()["error"]["details"] == {
        "scopes": "not held by the calling key: billing:read"
    }
    assert ApiKey.objects.filter(organization=alice_org).count() == 1
    assert not ApiKeyEvent.objects.exists()


def test_it_never_grants_the_platform_scope_even_to_a_key_that_holds_it(alice_org):
    _, manager = manager_of(alice_org, key_scopes=scopes.ALL)

    response = create(manager, scopes=[scopes.PLATFORM_INVENTORY_WRITE])

    assert response.status_code == 403
    assert response.json()["error"]["details"] == {
        "scopes": "platform:inventory:write is staff-grade"
    }
    assert ApiKey.objects.filter(organization=alice_org).count() == 1


@pytest.mark.parametrize(
    ("requested", "detail"),
    [
        (["numbers:read", "numbers:admin"], "unknown scope: numbers:admin"),
        (["numbers:read", "numbers:read"], "named more than once: numbers:read"),
    ],
)
def test_it_refuses_unknown_or_duplicate_scopes_with_400(alice_org, requested, detail):
    _, manager = manager_of(alice_org, key_scopes=scopes.ALL)

    response = create(manager, scopes=requested)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_INPUT"
    assert response.json()["error"]["details"] == {"scopes": detail}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": "numbers:read"}, "scopes"),
        ({"scopes": [1]}, "scopes"),
        ({"scopes": ["numbers:read"], "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"scopes": ["numbers:read"], "expires_at": "2099-01-01T00:00:00"}, "expires_at"),
        ({"scopes": ["numbers:read"], "expires_at": 4102444800}, "expires_at"),
        ({"scopes": ["numbers:read"], "label": "x" * 65}, "label"),
        ({"label": "no scopes"}, "scopes"),
    ],
)
def test_it_validates_the_body(alice_org, body, field):
    _, manager = manager_of(alice_org)

    response = manager.post("/v1/api-keys", body)

    assert response.status_code == 422
    assert list(response.json()["error"]["details"]) == [field]


def test_a_key_that_expires_stops_working_then(alice_org):
    _, manager = manager_of(alice_org)
    expires = (timezone.now() + timedelta(hours=1)).isoformat()
    secret = create(manager, expires_at=expires).json()["data"]["secret"]

    assert Api(secret).get("/v1/phone-numbers").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        assert Api(secret).get("/v1/phone-numbers").status_code == 401


def stored_answers(org) -> list[bytes]:
    return [
        bytes(body)
        for body in IdempotencyKey.objects.filter(organization_id=org.id).values_list(
            "response_body", flat=True
        )
    ]


def test_a_retried_create_with_the_same_idempotency_key_gets_the_same_key(alice_org):
    _, manager = manager_of(alice_org)

    first = manager.post(
        "/v1/api-keys", {"scopes": [scopes.NUMBERS_READ]}, HTTP_IDEMPOTENCY_KEY="k1"
    )
    again = manager.post(
        "/v1/api-keys", {"scopes": [scopes.NUMBERS_READ]}, HTTP_IDEMPOTENCY_KEY="k1"
    )

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert again["Cache-Control"] == "no-store"
    secret = first.json()["data"]["secret"]
    assert ApiKey.objects.filter(organization=alice_org).count() == 2  # the manager's and one
    assert Api(secret).get("/v1/phone-numbers").status_code == 200
    (stored,) = stored_answers(alice_org)
    assert secret.encode() not in stored and b'"secret":"fernet:' in stored


def test_a_retried_rotation_with_the_same_idempotency_key_rotates_once(alice_org):
    """Two rotations would end the grace of the secret the client still holds (a key has at
    most two live secrets): the retry gets the first rotation's answer instead."""
    _, manager = manager_of(alice_org)
    key, old_secret = api_key_create(organization=alice_org, scopes=[scopes.NUMBERS_READ])
    url = f"/v1/api-keys/{key.id}/rotate"

    first = manager.post(url, {"grace_seconds": 600}, HTTP_IDEMPOTENCY_KEY="rotate-1")
    again = manager.post(url, {"grace_seconds": 600}, HTTP_IDEMPOTENCY_KEY="rotate-1")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert Api(old_secret).get("/v1/phone-numbers").status_code == 200
    assert Api(first.json()["data"]["secret"]).get("/v1/phone-numbers").status_code == 200
    assert ApiKeyEvent.objects.filter(api_key=key, action="rotated").count() == 1
    (stored,) = stored_answers(alice_org)
    assert first.json()["data"]["secret"].encode() not in stored
    other = manager.post(url, {"grace_seconds": 600}, HTTP_IDEMPOTENCY_KEY="rotate-2")
    assert other.json()["data"]["secret"] != first.json()["data"]["secret"]
    assert Api(old_secret).get("/v1/phone-numbers").status_code == 401  # a second rotation


def test_a_malformed_idempotency_key_is_refused_before_anything_changes(alice_org):
    _, manager = manager_of(alice_org)
    key, old_secret = api_key_create(organization=alice_org, scopes=[scopes.NUMBERS_READ])

    created = manager.post(
        "/v1/api-keys", {"scopes": [scopes.NUMBERS_READ]}, HTTP_IDEMPOTENCY_KEY=""
    )
    rotated = manager.post(f"/v1/api-keys/{key.id}/rotate", {}, HTTP_IDEMPOTENCY_KEY="é")

    assert (created.status_code, rotated.status_code) == (422, 422)
    assert "Idempotency-Key" in rotated.json()["error"]["details"]
    assert ApiKey.objects.filter(organization=alice_org).count() == 2
    assert Api(old_secret).get("/v1/phone-numbers").status_code == 200


def test_it_lists_the_organizations_keys_without_secrets(alice_org, bob_org):
    manager_key, manager = manager_of(alice_org)
    old, _ = api_key_create(organization=alice_org, scopes=[scopes.NUMBERS_READ], label="old")
    api_key_create(organization=bob_org, scopes=[scopes.NUMBERS_READ], label="bob's")

    response = manager.get("/v1/api-keys")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    rows = response.json()["data"]
    assert [row["id"] for row in rows] == [str(old.id), str(manager_key.id)]
    assert set(rows[0]) == {
        "id",
        "prefix",
        "label",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    }
    assert response.json()["meta"]["next_cursor"] is None


def test_the_routes_need_their_scopes(alice_org):
    key, _ = api_key_create(organization=alice_org, scopes=[scopes.NUMBERS_READ])
    reader = make_api(alice_org, key_scopes=[scopes.APIKEYS_READ, scopes.NUMBERS_READ])
    no_scope = make_api(alice_org, key_scopes=[scopes.NUMBERS_READ])

    assert no_scope.get("/v1/api-keys").status_code == 403
    assert create(reader).status_code == 403
    assert reader.post(f"/v1/api-keys/{key.id}/rotate", {}).status_code == 403
    assert reader.delete(f"/v1/api-keys/{key.id}").status_code == 403
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_another_organizations_key_is_404_for_every_route(alice_org, bob_org):
    _, manager = manager_of(alice_org)
    bobs, bob_secret = api_key_create(organization=bob_org, scopes=[scopes.NUMBERS_READ])

    for response in (
        manager.post(f"/v1/api-keys/{bobs.id}/rotate", {}),
        manager.delete(f"/v1/api-keys/{bobs.id}"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    bobs.refresh_from_db()
    assert bobs.revoked_at is None and bobs.previous_secret_hash == ""
    assert Api(bob_secret).get("/v1/phone-numbers").status_code == 200


def test_rotation_keeps_the_old_secret_working_for_the_grace_period_only(alice_org):
    manager_key, manager = manager_of(alice_org)
    key, old_secret = api_key_create(organization=alice_org, scopes=[scopes.NUMBERS_READ])
    rotated_at = timezone.now()

    with time_machine.travel(rotated_at, tick=False):
        response = manager.post(f"/v1/api-keys/{key.id}/rotate", {"grace_seconds": 600})

    assert response.status_code == 200
    data = response.json()["data"]
    new_secret = data["secret"]
    assert data["id"] == str(key.id) and new_secret != old_secret
    assert data["prefix"] == new_secret[:12]
    assert data["previous_secret_expires_at"] == (
        (rotated_at + timedelta(seconds=600)).isoformat().replace("+00:00", "Z")
    )
    with time_machine.travel(rotated_at + timedelta(seconds=599)):
        assert Api(old_secret).get("/v1/phone-numbers").status_code == 200
        assert Api(new_secret).get("/v1/phone-numbers").status_code == 200
    with time_machine.travel(rotated_at + timedelta(seconds=601)):
        assert Api(old_secret).get("/v1/phone-numbers").status_code == 401
        assert Api(new_secret).get("/v1/phone-numbers").status_code == 200
    event = ApiKeyEvent.objects.get(api_key=key)
    assert (event.action, event.actor_key) == ("rotated", manager_key)
    assert event.details["grace_seconds"] == 600


def test_rotation_without_a_body_field_gives_an_hour_of_grace(alice_org):
    _, manager = manager_of(alice_org)
    key, old_secret = api_key_create(organization=alice_org, scopes=[scopes.NUMBERS_READ])

    response = manager.post(f"/v1/api-keys/{key.id}/rotate", {})

    assert response.status_code == 200
    key.refresh_from_db()
    assert (key.previous_secret_expires_at - timezone.now()).total_seconds() == pytest.approx(
        3600, abs=10
    )
    with time_machine.travel(timezone.now() + timedelta(seconds=3601)):
        assert Api(old_secret).get("/v1/phone-numbers").status_code == 401


def test_rotation_with_no_grace_ends_the_old_secret_at_once(alice_org):
    _, manager = manager_of(alice_org)
    key, old_secret = api_key_create(organization=alice_org, scopes=[scopes.NUMBERS_READ])

    response = manager.post(f"/v1/api-keys/{key.id}/rotate", {"grace_seconds": 0})

    assert response.status_code == 200
    assert response.json()["data"]["previous_secret_expires_at"] is None
    assert Api(old_secret).get("/v1/phone-numbers").status_code == 401
    assert Api(response.json()["data"]["secret"]).get("/v1/phone-numbers").status_code == 200


def test_a_second_rotation_ends_the_first_secrets_grace(alice_org):
    _, manager = manager_of(alice_org)
    key, first = api_key_create(organization=alice_org, scopes=[scopes.NUMBERS_READ])
    second = manager.post(f"/v1/api-keys/{key.id}/rotate", {}).json()["data"]["secret"]

    third = manager.post(f"/v1/api-keys/{key.id}/rotate", {}).json()["data"]["secret"]

    assert Api(first).get("/v1/phone-numbers").status_code == 401
    assert Api(second).get("/v1/phone-numbers").status_code == 200
    assert Api(third).get("/v1/phone-numbers").status_code == 200


@pytest.mark.parametrize("grace", [-1, 86_401, "60", 1.5, None, True])
def test_it_validates_grace_seconds(alice_org, grace):
    _, manager = manager_of(alice_org)
    key, _ = api_key_create(organization=alice_org, scopes=[scopes.NUMBERS_READ])

    response = manager.post(f"/v1/api-keys/{key.id}/rotate", {"grace_seconds": grace})

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {
        "grace_seconds": "must be an integer from 0 to 86400"
    }


def test_a_revoked_key_cannot_be_rotated_back_to_life(alice_org):
    _, manager = manager_of(alice_org)
    key, _ = api_key_create(organization=alice_org, scopes=[scopes.NUMBERS_READ])
    manager.delete(f"/v1/api-keys/{key.id}")

    response = manager.post(f"/v1/api-keys/{key.id}/rotate", {})

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"id": "the key is revoked or expired"}
    assert "secret" not in response.content.decode()


def test_revocation_refuses_the_next_request_and_both_secrets_in_grace(alice_org):
    manager_key, manager = manager_of(alice_org)
    key, old_secret = api_key_create(organization=alice_org, scopes=[scopes.NUMBERS_READ])
    new_secret = manager.post(f"/v1/api-keys/{key.id}/rotate", {}).json()["data"]["secret"]

    response = manager.delete(f"/v1/api-keys/{key.id}")

    assert response.status_code == 200
    assert response.json()["data"]["revoked_at"] is not None
    assert "secret" not in response.json()["data"]
    for secret in (old_secret, new_secret):
        assert Api(secret).get("/v1/phone-numbers").status_code == 401
    again = manager.delete(f"/v1/api-keys/{key.id}")
    assert again.status_code == 200
    assert again.json()["data"]["revoked_at"] == response.json()["data"]["revoked_at"]
    actions = list(ApiKeyEvent.objects.filter(api_key=key).values_list("action", "actor_key"))
    assert actions == [("revoked", manager_key.id), ("rotated", manager_key.id)]


def test_a_key_can_revoke_itself(alice_org):
    key, api = manager_of(alice_org)

    response = api.delete(f"/v1/api-keys/{key.id}")

    assert response.status_code == 200
    assert api.get("/v1/api-keys").status_code == 401
    event = ApiKeyEvent.objects.get(api_key=key)
    assert (event.action, event.actor_key_id) == ("revoked", key.id)


def test_a_malformed_key_id_is_422(alice_org):
    _, manager = manager_of(alice_org)

    response = manager.delete("/v1/api-keys/not-a-uuid")

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"id": "must be a UUID"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_rotations_lose_no_secret_they_handed_out():
    """Each rotation reads the key's current secret to keep it as the previous one; without the
    row lock two rotations at once both keep the original, and one of the two new secrets is
    dead the moment it is handed out."""
    from tests.support.factories import make_org

    org = make_org("Race Telecom")
    _, manager = manager_of(org)
    key, _ = api_key_create(organization=org, scopes=[scopes.NUMBERS_READ])
    rounds, threads_per_round = 5, 3
    for _ in range(rounds):
        barrier = threading.Barrier(threads_per_round)
        secrets_out, failures = [], []

        def rotate(barrier=barrier, secrets_out=secrets_out, failures=failures):
            try:
                barrier.wait()
                response = manager.post(f"/v1/api-keys/{key.id}/rotate", {})
                secrets_out.append(response.json()["data"]["secret"])
            except Exception as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=rotate) for _ in range(threads_per_round)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not failures
        live = [s for s in secrets_out if Api(s).get("/v1/phone-numbers").status_code == 200]
        # The last two rotations' secrets are the current and the previous one.
        assert len(live) == 2, f"{threads_per_round - len(live)} handed-out secrets are dead"
