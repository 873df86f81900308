"""API.md §1: authentication, organizations and scopes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import scopes
from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke, credit_topup
from tests.support.factories import Api, make_api


def unauthorized_body(response):
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert body["error"]["request_id"] == response["X-Request-Id"]
    body["error"].pop("request_id")
    return body


@pytest.fixture
def failing_clients(alice_org):
    """One client per way a key can fail."""
    _, revoked = api_key_create(organization=alice_org, scopes=scopes.ALL)
    api_key_revoke(api_key=ApiKey.objects.get(prefix=revoked[:12]))
    _, expired = api_key_create(
        organization=alice_org,
        scopes=scopes.ALL,
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    _, valid = api_key_create(organization=alice_org, scopes=scopes.ALL)
    unknown = valid[:-4] + ("AAAA" if not valid.endswith("AAAA") else "BBBB")
    missing = Api()
    wrong_scheme = Api()
    wrong_scheme.client.credentials(HTTP_AUTHORIZATION=f"Token {valid}")
    empty_bearer = Api()
    empty_bearer.client.credentials(HTTP_AUTHORIZATION="Bearer ")
    return {
        "missing": missing,
        "malformed": Api("not-a-key"),
        "too short": Api("am_live_short"),
        "wrong scheme": wrong_scheme,
        "empty bearer": empty_bearer,
        "unknown": Api(unknown),
        "revoked": Api(revoked),
        "expired": Api(expired),
    }


def test_it_answers_every_failed_authentication_with_the_identical_401(failing_clients):
    bodies = {
        cause: unauthorized_body(api.get("/v1/billing/wallet"))
        for cause, api in failing_clients.items()
    }

    expected = {
        "success": False,
        "error": {"code": "UNAUTHORIZED", "message": "authentication failed"},
    }
    assert bodies == {cause: expected for cause in failing_clients}


def test_it_accepts_a_valid_key_and_records_when_it_was_used(alice_org):
    key, secret = api_key_create(organization=alice_org, scopes=[scopes.BILLING_READ])
    assert key.last_used_at is None

    response = Api(secret).get("/v1/billing/wallet")

    assert response.status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_it_accepts_a_key_that_expires_in_the_future(alice_org):
    _, secret = api_key_create(
        organization=alice_org,
        scopes=[scopes.BILLING_READ],
        expires_at=timezone.now() + timedelta(hours=1),
    )

    assert Api(secret).get("/v1/billing/wallet").status_code == 200


def test_it_refuses_a_key_revoked_after_it_was_used(alice_org):
    key, secret = api_key_create(organization=alice_org, scopes=[scopes.BILLING_READ])
    assert Api(secret).get("/v1/billing/wallet").status_code == 200

    api_key_revoke(api_key=key)

    assert Api(secret).get("/v1/billing/wallet").status_code == 401


def test_a_key_of_one_organization_never_sees_another_organizations_data(
    alice, bob, alice_org, bob_org
):
    credit_topup(organization_id=alice_org.id, cents=123_456)

    alice_wallet = alice.get("/v1/billing/wallet").json()["data"]
    bob_wallet = bob.get("/v1/billing/wallet").json()["data"]

    assert alice_wallet["balance_cents"] == 10_000 + 123_456
    assert bob_wallet["balance_cents"] == 10_000


def test_it_answers_403_for_a_key_without_the_routes_scope(alice_org):
    other_scopes = [scope for scope in scopes.ALL if scope != scopes.BILLING_READ]
    api = make_api(alice_org, key_scopes=other_scopes)

    response = api.get("/v1/billing/wallet")

    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "FORBIDDEN",
        "message": "missing required scope",
        "request_id": response["X-Request-Id"],
    }


def test_it_serves_a_key_with_only_the_routes_scope(alice_org):
    api = make_api(alice_org, key_scopes=[scopes.BILLING_READ])

    response = api.get("/v1/billing/wallet")

    assert response.status_code == 200
    assert response.json()["data"]["balance_cents"] == 10_000
