from accounts import scopes
from accounts.services import credit_topup
from tests.support.factories import make_api


def test_it_returns_the_wallet_in_the_envelope(alice, alice_org):
    credit_topup(organization_id=alice_org.id, cents=250)

    response = alice.get("/v1/billing/wallet")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {"balance_cents": 10_250, "held_cents": 0, "available_cents": 10_250},
    }
    assert len(response["X-Request-Id"]) == 26


def test_it_needs_billing_read(alice_org):
    api = make_api(alice_org, key_scopes=[scopes.NUMBERS_READ])

    response = api.get("/v1/billing/wallet")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert response.json()["error"]["message"] == "missing required scope"


def test_it_refuses_a_missing_key(anonymous):
    response = anonymous.get("/v1/billing/wallet")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == {
        "code": "UNAUTHORIZED",
        "message": "authentication failed",
        "request_id": response["X-Request-Id"],
    }


def test_it_answers_with_the_one_query_that_authenticates(alice, django_assert_num_queries):
    alice.get("/v1/billing/wallet")  # the first use also records last_used_at

    with django_assert_num_queries(1):
        response = alice.get("/v1/billing/wallet")

    assert response.json()["data"]["balance_cents"] == 10_000
